/**
 * A minimal protobuf writer for the subset of onnx.proto the engine emits (models, graphs,
 * nodes, tensors). Writing ONNX ourselves keeps the engine free of a protobuf toolchain.
 */

class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.varint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.varint(value.length);
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  message(field: number, value: ProtoWriter): this {
    return this.bytes(field, value.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9 } as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

export interface TensorInit {
  readonly name: string;
  readonly dims: readonly number[];
  readonly type: DataType;
  /** Little-endian raw bytes of the tensor. */
  readonly raw: Uint8Array;
}

export type AttrValue =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'floats'; readonly value: readonly number[] };

export interface NodeDef {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  readonly attrs?: Readonly<Record<string, AttrValue>>;
  /** Operator set domain; absent = the default ONNX domain (`com.microsoft` for onnxruntime's contrib ops). */
  readonly domain?: string;
}

export interface ValueInfo {
  readonly name: string;
  readonly type: DataType;
  /** A number is a fixed size, a string a symbolic dimension. */
  readonly shape: readonly (number | string)[];
}

export interface GraphDef {
  readonly name: string;
  readonly nodes: readonly NodeDef[];
  readonly initializers: readonly TensorInit[];
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
}

function tensorProto(t: TensorInit): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.type);
  w.string(8, t.name);
  w.bytes(9, t.raw);
  return w;
}

function attributeProto(name: string, a: AttrValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  switch (a.kind) {
    case 'float':
      return w.float(2, a.value).int(20, 1);
    case 'int':
      return w.int(3, a.value).int(20, 2);
    case 'string':
      return w.string(4, a.value).int(20, 3);
    case 'floats':
      for (const v of a.value) w.float(7, v);
      return w.int(20, 6);
    case 'ints':
      for (const v of a.value) w.int(8, v);
      return w.int(20, 7);
  }
}

function nodeProto(n: NodeDef): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.op);
  for (const [k, v] of Object.entries(n.attrs ?? {})) w.message(5, attributeProto(k, v));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function valueInfoProto(v: ValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) {
    const dim = new ProtoWriter();
    if (typeof d === 'number') dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().int(1, v.type).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, v.name).message(2, type);
}

export function encodeModel(graph: GraphDef, opset = 17): Uint8Array {
  const g = new ProtoWriter();
  for (const n of graph.nodes) g.message(1, nodeProto(n));
  g.string(2, graph.name);
  for (const t of graph.initializers) g.message(5, tensorProto(t));
  for (const i of graph.inputs) g.message(11, valueInfoProto(i));
  for (const o of graph.outputs) g.message(12, valueInfoProto(o));
  const model = new ProtoWriter().int(1, 8).string(2, 'vigil-engine').message(7, g);
  model.message(8, new ProtoWriter().string(1, '').int(2, opset));
  const domains = new Set(graph.nodes.flatMap((n) => (n.domain ? [n.domain] : [])));
  for (const domain of domains) model.message(8, new ProtoWriter().string(1, domain).int(2, 1));
  return model.finish();
}

export function floatTensor(name: string, dims: readonly number[], data: Float32Array): TensorInit {
  const copy = new Float32Array(data);
  return { name, dims, type: DataType.FLOAT, raw: new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength) };
}

export function int64Tensor(name: string, dims: readonly number[], data: readonly number[]): TensorInit {
  const arr = BigInt64Array.from(data.map((d) => BigInt(d)));
  return { name, dims, type: DataType.INT64, raw: new Uint8Array(arr.buffer) };
}

export const attr = {
  int: (value: number): AttrValue => ({ kind: 'int', value }),
  float: (value: number): AttrValue => ({ kind: 'float', value }),
  string: (value: string): AttrValue => ({ kind: 'string', value }),
  ints: (value: readonly number[]): AttrValue => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): AttrValue => ({ kind: 'floats', value }),
};

/**
 * Makes the named tensors of an existing ONNX model graph outputs (float, shape left to the runtime), by
 * appending a GraphProto with only those outputs: protobuf merges a repeated singular message field.
 */
export function appendGraphOutputs(model: Uint8Array, names: readonly string[]): Uint8Array {
  const g = new ProtoWriter();
  for (const n of names) {
    const tensorType = new ProtoWriter().int(1, DataType.FLOAT);
    const type = new ProtoWriter().message(1, tensorType);
    g.message(12, new ProtoWriter().string(1, n).message(2, type));
  }
  const extra = new ProtoWriter().message(7, g).finish();
  const out = new Uint8Array(model.length + extra.length);
  out.set(model, 0);
  out.set(extra, model.length);
  return out;
}
