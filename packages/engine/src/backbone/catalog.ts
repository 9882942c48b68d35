/** The backbones that ship with the engine (weights from the nsfwjs npm package, MIT). */
export interface LayerInfo {
  readonly name: string;
  readonly stride: number;
  readonly channels: number;
}

export interface BuiltinBackbone {
  readonly id: BuiltinBackboneId;
  readonly kind: 'graph' | 'layers';
  readonly nsfwjsModel: 'mobilenet_v2' | 'mobilenet_v2_mid';
  /** Node-name prefix stripped from graph-model node names. */
  readonly prefix: string;
  readonly layers: Readonly<Record<'mid' | 'deep' | 'deeper', LayerInfo>>;
  readonly licence: string;
}

export type BuiltinBackboneId = 'mnv2-mid' | 'mnv2-keras';

export const BUILTIN_BACKBONES: Readonly<Record<BuiltinBackboneId, BuiltinBackbone>> = {
  'mnv2-mid': {
    id: 'mnv2-mid',
    kind: 'graph',
    nsfwjsModel: 'mobilenet_v2_mid',
    prefix: 'MobilenetV2/',
    layers: {
      mid: { name: 'expanded_conv_5/add', stride: 8, channels: 48 },
      deep: { name: 'expanded_conv_12/add', stride: 16, channels: 136 },
      deeper: { name: 'expanded_conv_15/add', stride: 32, channels: 224 },
    },
    licence: 'MIT (nsfwjs; TF-Hub MobileNetV2 1.4 fine-tuned)',
  },
  'mnv2-keras': {
    id: 'mnv2-keras',
    kind: 'layers',
    nsfwjsModel: 'mobilenet_v2',
    prefix: '',
    layers: {
      mid: { name: 'block_5_add', stride: 8, channels: 32 },
      deep: { name: 'block_12_add', stride: 16, channels: 96 },
      deeper: { name: 'block_15_add', stride: 32, channels: 160 },
    },
    licence: 'MIT (nsfwjs; Keras MobileNetV2 1.0 fine-tuned)',
  },
};

export type LayerDepth = keyof BuiltinBackbone['layers'];
