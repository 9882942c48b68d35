import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ErrorCode, VigilError } from '@vigil/contracts';
import { type EngineConfig } from './config';

/**
 * Model file layout (little endian):
 *   "VIGILMDL" | u32 format version | u32 header length | header JSON | sections... | sha256 of all before it
 * Sections are raw typed arrays located by byte offsets (relative to the end of the header) in the header.
 */
export const ARTIFACT_MAGIC = 'VIGILMDL';
export const ARTIFACT_FORMAT_VERSION = 1;
const PREFIX = 16;
const DIGEST = 32;

const sectionSchema = z.object({ offset: z.number().int().nonnegative(), length: z.number().int().nonnegative() });

const roiSchema = z.object({
  left: z.number(),
  top: z.number(),
  width: z.number(),
  height: z.number(),
});

export const headerSchema = z.object({
  format: z.literal('vigil-anomaly-model'),
  engineVersion: z.string(),
  createdAt: z.string(),
  backbone: z.object({ digest: z.string(), licence: z.string(), channels: z.number().int(), stride: z.number().int() }),
  config: z
    .object({
      backbones: z.array(z.enum(['mnv2-mid', 'mnv2-keras'])).min(1),
      layers: z.array(z.enum(['mid', 'deep', 'deeper'])).min(1),
      aggregation: z.number().int(),
      inputSize: z.number().int(),
      coresetRatio: z.number(),
      maxBankSize: z.number().int(),
      maxCandidates: z.number().int(),
      projectionDim: z.number().int(),
      topK: z.number().int(),
      reweight: z.boolean(),
      neighbours: z.number().int(),
      sigma: z.number(),
      roi: roiSchema.optional(),
      iccProfile: z.enum(['ignore', 'convert']).default('convert'), // absent: written before the option, converted
      shrinkOnLoad: z.boolean().default(true), // absent: written before the option, shrunk on load
      tiles: z.number().int().min(0).default(1), // 0 or 1: no tiling
      tileOverlap: z.number().min(0).max(0.5).default(0.125),
      precision: z.enum(['int8', 'fp32']).default('fp32'), // absent: written before int8, float
      activationRanges: z
        .record(z.string(), z.tuple([z.number(), z.number()]).readonly())
        .readonly()
        .optional(),
      customBackbone: z
        .object({
          name: z.string(),
          path: z.string(),
          inputName: z.string().optional(),
          featureNodes: z.array(z.string()).min(1).readonly(),
          inputSize: z.object({ width: z.number().int().positive(), height: z.number().int().positive() }).optional(),
          mean: z.tuple([z.number(), z.number(), z.number()]).readonly(),
          std: z.tuple([z.number(), z.number(), z.number()]).readonly(),
          licence: z.string().optional(),
          digest: z.string().optional(),
          layers: z
            .array(z.object({ name: z.string(), stride: z.number().int(), channels: z.number().int() }))
            .readonly()
            .optional(),
        })
        .optional(),
    })
    .refine((c) => c.precision !== 'int8' || c.customBackbone || c.activationRanges, {
      message: 'an int8 model records the activation ranges its network was quantized with',
    }),
  bank: z.object({ rows: z.number().int().positive(), dims: z.number().int().positive(), dtype: z.literal('float16') }),
  /** Sharpening with labelled anomalies (Method 3b); absent = off. */
  sharpening: z
    .object({
      weight: z.number().positive(),
      rows: z.number().int().positive(),
      source: z.enum(['masks', 'top-patches']),
    })
    .optional(),
  sections: z.object({
    bank: sectionSchema,
    neighbours: sectionSchema,
    prototypes: sectionSchema,
    anomalyBank: sectionSchema.optional(),
  }),
  threshold: z.object({
    image: z.number(),
    pixel: z.number(),
    scale: z.number().positive(),
    policy: z.string(),
  }),
  classes: z.array(z.object({ name: z.string(), color: z.string() })),
  training: z.record(z.string(), z.unknown()),
});

export type ArtifactHeader = z.infer<typeof headerSchema>;

export interface ArtifactSections {
  /** float16 bits, [rows, dims]. */
  readonly bank: Uint16Array;
  /** int32 [rows, neighbours] (empty without reweighting). */
  readonly neighbours: Int32Array;
  /** float32 [classes, dims] (empty without labelled masks). */
  readonly prototypes: Float32Array;
  /** float16 bits, [sharpening.rows, dims]: defect patches of the labelled anomalies (with sharpening only). */
  readonly anomalyBank?: Uint16Array;
}

function corrupt(message: string, details: Record<string, unknown> = {}): VigilError {
  return new VigilError(ErrorCode.BadUserInput, message, { reason: 'invalid-model-artifact', ...details });
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function writeArtifact(header: Omit<ArtifactHeader, 'sections'>, sections: ArtifactSections): Uint8Array {
  if (Boolean(header.sharpening) !== Boolean(sections.anomalyBank)) {
    throw new VigilError(ErrorCode.Internal, 'sharpening and its anomaly bank go together');
  }
  const parts = [bytesOf(sections.bank), bytesOf(sections.neighbours), bytesOf(sections.prototypes)];
  if (sections.anomalyBank) parts.push(bytesOf(sections.anomalyBank));
  // Align every section to 8 bytes so it can be viewed in place as a typed array.
  const offsets: { offset: number; length: number }[] = [];
  let cursor = 0;
  for (const p of parts) {
    offsets.push({ offset: cursor, length: p.length });
    cursor += Math.ceil(p.length / 8) * 8;
  }
  const full: ArtifactHeader = {
    ...header,
    sections: {
      bank: offsets[0]!,
      neighbours: offsets[1]!,
      prototypes: offsets[2]!,
      ...(offsets[3] ? { anomalyBank: offsets[3] } : {}),
    },
  };
  let json = Buffer.from(JSON.stringify(full), 'utf8');
  const pad = (8 - ((PREFIX + json.length) % 8)) % 8;
  json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const total = PREFIX + json.length + cursor + DIGEST;
  const out = new Uint8Array(total);
  out.set(Buffer.from(ARTIFACT_MAGIC, 'ascii'), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, ARTIFACT_FORMAT_VERSION, true);
  view.setUint32(12, json.length, true);
  out.set(json, PREFIX);
  const base = PREFIX + json.length;
  parts.forEach((p, i) => out.set(p, base + offsets[i]!.offset));
  const digest = createHash('sha256')
    .update(out.subarray(0, total - DIGEST))
    .digest();
  out.set(digest, total - DIGEST);
  return out;
}

export function readArtifact(bytes: Uint8Array): { header: ArtifactHeader; sections: ArtifactSections } {
  if (!bytes || bytes.length < PREFIX + DIGEST) throw corrupt('model file is too short');
  if (Buffer.from(bytes.subarray(0, 8)).toString('ascii') !== ARTIFACT_MAGIC) {
    throw corrupt('not a Vigil model file');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== ARTIFACT_FORMAT_VERSION) {
    throw corrupt(`unsupported model format version ${version}`, { version, supported: ARTIFACT_FORMAT_VERSION });
  }
  const body = bytes.subarray(0, bytes.length - DIGEST);
  const expected = Buffer.from(bytes.subarray(bytes.length - DIGEST));
  if (!createHash('sha256').update(body).digest().equals(expected)) throw corrupt('model file checksum mismatch');
  const headerLength = view.getUint32(12, true);
  if (PREFIX + headerLength > body.length) throw corrupt('model header is truncated');
  let header: ArtifactHeader;
  try {
    const json: unknown = JSON.parse(Buffer.from(bytes.subarray(PREFIX, PREFIX + headerLength)).toString('utf8'));
    header = headerSchema.parse(json);
  } catch (cause) {
    throw new VigilError(
      ErrorCode.BadUserInput,
      'model header is invalid',
      { reason: 'invalid-model-artifact' },
      { cause },
    );
  }
  const base = PREFIX + headerLength;
  // Copy each section into its own aligned buffer (input bytes may sit at any offset).
  const section = (s: { offset: number; length: number }): ArrayBuffer => {
    if (base + s.offset + s.length > body.length) throw corrupt('model section out of range');
    const copy = new Uint8Array(s.length);
    copy.set(bytes.subarray(base + s.offset, base + s.offset + s.length));
    return copy.buffer;
  };
  const bank = new Uint16Array(section(header.sections.bank));
  if (bank.length !== header.bank.rows * header.bank.dims) throw corrupt('memory bank size mismatch');
  const anomalyAt = header.sections.anomalyBank;
  if (Boolean(anomalyAt) !== Boolean(header.sharpening)) throw corrupt('sharpening without its anomaly bank');
  const anomalyBank = anomalyAt ? new Uint16Array(section(anomalyAt)) : undefined;
  if (anomalyBank && anomalyBank.length !== (header.sharpening?.rows ?? 0) * header.bank.dims) {
    throw corrupt('anomaly bank size mismatch');
  }
  return {
    header,
    sections: {
      bank,
      neighbours: new Int32Array(section(header.sections.neighbours)),
      prototypes: new Float32Array(section(header.sections.prototypes)),
      ...(anomalyBank ? { anomalyBank } : {}),
    },
  };
}

export function configFromHeader(h: ArtifactHeader): EngineConfig {
  return h.config;
}
