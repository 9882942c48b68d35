import { createHash } from 'node:crypto';

/** What the engine's standalone export gives (see @vigil/engine `exportOnnx`). */
export interface ExportedOnnx {
  readonly onnx: Uint8Array;
  readonly input: { readonly name: string; readonly width: number; readonly height: number };
  readonly iccProfile: 'ignore' | 'convert';
  readonly shrinkOnLoad: boolean;
  readonly outputs: readonly string[];
  readonly threshold: number;
  readonly sha256: string;
}

export interface EdgePackageMeta {
  readonly project: string;
  readonly modelVersion: number;
  readonly artifactSha256: string;
  readonly componentName: string;
  readonly componentVersion: string;
}

export interface EdgePackageFile {
  readonly name: string;
  readonly bytes: Buffer;
}

export const MODEL_FILE = 'model.onnx';
export const PREPROCESSING_FILE = 'preprocessing.json';
export const RUNNER_FILE = 'run.js';
export const MANIFEST_FILE = 'package.json';

/**
 * A runner that needs only onnxruntime-node and sharp (`npm install onnxruntime-node sharp`) and does the engine's
 * preprocessing: orient, the embedded ICC profile ignored or converted as the model says, drop alpha, sRGB, decode
 * at full resolution when the model does (`shrinkOnLoad: false`), resize (bilinear, fill) to the network size,
 * planar RGB / 255. (The engine decodes plain JPEGs with libjpeg-turbo's fast IDCT, the runner with libvips':
 * a level or two of 255 apart on hard edges.)
 */
const RUNNER = `#!/usr/bin/env node
// Vigil edge package runner: node run.js <image> [<image> ...]  (needs: npm install onnxruntime-node sharp)
// Prints one JSON line per image: { image, score, normalised, anomalous }.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const ort = require('onnxruntime-node');
const sharp = require('sharp');

const pre = JSON.parse(fs.readFileSync(path.join(__dirname, 'preprocessing.json'), 'utf8'));

async function tensorOf(file) {
  const { width, height } = pre.input;
  let image = sharp(file).rotate();
  if (pre.input.iccProfile === 'ignore') image = image.keepIccProfile();
  image = image.removeAlpha().toColourspace('srgb');
  if (pre.input.shrinkOnLoad === false) {
    // Decoded at full resolution first, as the model was trained: no JPEG shrink-on-load before the resize.
    const full = await image.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    image = sharp(full.data, { raw: full.info });
  }
  const { data, info } = await image
    .resize(width, height, { fit: 'fill', kernel: 'linear' })
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const n = width * height;
  const ch = info.channels;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const r = data[i * ch] / 255;
    out[i] = r;
    out[n + i] = ch >= 3 ? data[i * ch + 1] / 255 : r;
    out[2 * n + i] = ch >= 3 ? data[i * ch + 2] / 255 : r;
  }
  return new ort.Tensor('float32', out, [1, 3, height, width]);
}

async function main(files) {
  if (files.length === 0) {
    process.stderr.write('usage: node run.js <image> [<image> ...]\\n');
    process.exit(2);
  }
  const session = await ort.InferenceSession.create(path.join(__dirname, pre.model));
  for (const file of files) {
    const out = await session.run({ [pre.input.name]: await tensorOf(file) });
    process.stdout.write(
      JSON.stringify({
        image: file,
        score: out.score.data[0],
        normalised: out.normalised.data[0],
        anomalous: Boolean(out.anomalous.data[0]),
      }) + '\\n',
    );
  }
  await session.release();
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(String((error && error.stack) || error) + '\\n');
  process.exit(1);
});
`;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The files of an edge package: the ONNX model, its preprocessing, a runner and a manifest with digests. */
export function buildEdgePackage(exported: ExportedOnnx, meta: EdgePackageMeta): EdgePackageFile[] {
  const preprocessing = {
    model: MODEL_FILE,
    modelSha256: exported.sha256,
    input: {
      name: exported.input.name,
      width: exported.input.width,
      height: exported.input.height,
      layout: 'NCHW',
      dtype: 'float32',
      channels: 'RGB',
      scale: 1 / 255,
      resize: { method: 'bilinear', fit: 'fill' },
      orientation: 'apply EXIF orientation first',
      iccProfile: exported.iccProfile,
      shrinkOnLoad: exported.shrinkOnLoad,
    },
    outputs: {
      names: exported.outputs,
      score: 'raw image anomaly score',
      normalised: 'sigmoid of the score, 0.5 is the threshold',
      anomalous: 'score >= threshold',
      map: 'smoothed patch distances [1, 1, height, width]',
    },
    threshold: exported.threshold,
  };
  const files: EdgePackageFile[] = [
    { name: MODEL_FILE, bytes: Buffer.from(exported.onnx) },
    { name: PREPROCESSING_FILE, bytes: Buffer.from(`${JSON.stringify(preprocessing, null, 2)}\n`) },
    { name: RUNNER_FILE, bytes: Buffer.from(RUNNER) },
  ];
  const manifest = {
    name: meta.componentName,
    version: meta.componentVersion,
    private: true,
    description: `Vigil edge package: project ${meta.project}, model version ${meta.modelVersion}`,
    main: RUNNER_FILE,
    dependencies: { 'onnxruntime-node': '^1.30.0', sharp: '^0.35.5' },
    vigil: {
      project: meta.project,
      modelVersion: meta.modelVersion,
      artifactSha256: meta.artifactSha256,
      files: Object.fromEntries(files.map((f) => [f.name, sha256(f.bytes)])),
    },
  };
  return [...files, { name: MANIFEST_FILE, bytes: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) }];
}
