import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { buildEdgePackage, MANIFEST_FILE, MODEL_FILE, PREPROCESSING_FILE, RUNNER_FILE } from './edge-package';

describe('edge package', () => {
  const exported = {
    onnx: new Uint8Array([8, 7, 6, 5]),
    input: { name: 'image', width: 64, height: 48 },
    iccProfile: 'ignore' as const,
    shrinkOnLoad: false,
    outputs: ['score', 'normalised', 'anomalous', 'map', 'dist'],
    threshold: 1.25,
    sha256: 'ab'.repeat(32),
  };
  const files = buildEdgePackage(exported, {
    project: 'cookies',
    modelVersion: 3,
    artifactSha256: 'cd'.repeat(32),
    componentName: 'cookie-inspector',
    componentVersion: '1.0.3',
  });
  const byName = new Map(files.map((f) => [f.name, f.bytes]));

  it('holds the ONNX model, its preprocessing, a runner and a manifest with every digest', () => {
    expect([...byName.keys()]).toEqual([MODEL_FILE, PREPROCESSING_FILE, RUNNER_FILE, MANIFEST_FILE]);
    expect(byName.get(MODEL_FILE)).toEqual(Buffer.from(exported.onnx));
    const pre = JSON.parse(String(byName.get(PREPROCESSING_FILE))) as {
      input: { name: string; width: number; height: number; layout: string };
      threshold: number;
    };
    expect(pre.input).toMatchObject({
      name: 'image',
      width: 64,
      height: 48,
      layout: 'NCHW',
      iccProfile: 'ignore',
      shrinkOnLoad: false,
    });
    expect(pre.threshold).toBe(1.25);
    const manifest = JSON.parse(String(byName.get(MANIFEST_FILE))) as {
      name: string;
      version: string;
      vigil: { files: Record<string, string>; modelVersion: number };
    };
    expect(manifest).toMatchObject({ name: 'cookie-inspector', version: '1.0.3', vigil: { modelVersion: 3 } });
    for (const name of [MODEL_FILE, PREPROCESSING_FILE, RUNNER_FILE]) {
      const bytes = byName.get(name) ?? Buffer.alloc(0);
      expect(manifest.vigil.files[name]).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
  });

  it('ships a runner that is valid JavaScript and reads preprocessing.json', () => {
    const runner = String(byName.get(RUNNER_FILE));
    expect(() => new Function('require', '__dirname', 'process', runner.replace(/^#!.*\n/, ''))).not.toThrow();
    expect(runner).toContain("'preprocessing.json'");
  });
});
