import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { errors } from '@vigil/contracts';

/** One entry of a TFJS weights manifest. */
export interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly quantization?: { readonly min?: number; readonly scale?: number; readonly dtype: string };
}

export interface TfjsBundle {
  readonly topology: unknown;
  readonly weights: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>;
  /** Bytes the weights were decoded from, for the backbone digest. */
  readonly sourceBytes: number;
  readonly sourceText: string;
}

// The nsfwjs package ships each model as UMD modules (topology object + base64 weight shards), so
// loading them through Node's own module loader is the supported way to read them.
const loadCjs = createRequire(__filename);

export function nsfwjsModelDir(model: 'mobilenet_v2' | 'mobilenet_v2_mid'): string {
  let entry: string;
  try {
    entry = loadCjs.resolve('nsfwjs');
  } catch (cause) {
    throw errors.internal('the nsfwjs package (backbone weights) is not installed', cause);
  }
  // entry is <pkg>/dist/cjs/index.js
  return join(dirname(dirname(entry)), 'models', model);
}

function dequantize(spec: WeightSpec, bytes: Buffer, offset: number): { data: Float32Array; size: number } {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  const q = spec.quantization;
  if (q) {
    if (q.dtype !== 'uint8') throw errors.internal(`unsupported weight quantization ${q.dtype}`);
    const min = q.min ?? 0;
    const scale = q.scale ?? 1;
    for (let i = 0; i < count; i++) data[i] = (bytes[offset + i] ?? 0) * scale + min;
    return { data, size: count };
  }
  if (spec.dtype !== 'float32') throw errors.internal(`unsupported weight dtype ${spec.dtype}`);
  for (let i = 0; i < count; i++) data[i] = bytes.readFloatLE(offset + 4 * i);
  return { data, size: count * 4 };
}

interface ManifestGroup {
  readonly paths: readonly string[];
  readonly weights: readonly WeightSpec[];
}

export function loadTfjsBundle(dir: string): TfjsBundle {
  const modelFile = join(dir, 'model.min.js');
  const model = loadCjs(modelFile) as { modelTopology?: unknown; weightsManifest?: ManifestGroup[] };
  if (!model.modelTopology || !Array.isArray(model.weightsManifest)) {
    throw errors.internal(`not a TFJS model bundle: ${modelFile}`);
  }
  const weights = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  let sourceBytes = 0;
  for (const group of model.weightsManifest) {
    const shards = group.paths.map((p) => {
      const b64 = loadCjs(join(dir, `${p}.min.js`)) as unknown;
      if (typeof b64 !== 'string') throw errors.internal(`weight shard ${p} is not base64 text`);
      return Buffer.from(b64, 'base64');
    });
    const bytes = Buffer.concat(shards);
    sourceBytes += bytes.length;
    let offset = 0;
    for (const spec of group.weights) {
      const { data, size } = dequantize(spec, bytes, offset);
      offset += size;
      weights.set(spec.name, { shape: spec.shape, data });
    }
  }
  return { topology: model.modelTopology, weights, sourceBytes, sourceText: readFileSync(modelFile, 'utf8') };
}
