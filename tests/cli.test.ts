/** The `vigil` command as a user runs it (built output), against a fresh data directory. */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { syntheticImage } from '@vigil/images/src/testing';

const run = promisify(execFile);
const BIN = path.resolve(__dirname, '../cli/bin/vigil.js');

async function vigil(args: string[], dataDir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args, '--data-dir', dataDir], {
      env: { ...process.env, LOG_LEVEL: 'silent', NODE_OPTIONS: '' },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

describe('vigil CLI', () => {
  let dataDir: string;
  let folder: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-cli-'));
    folder = path.join(dataDir, 'images');
    for (const [sub, defect] of [
      ['train/good', false],
      ['test/good', false],
      ['test/crack', true],
    ] as const) {
      await mkdir(path.join(folder, sub), { recursive: true });
      for (let i = 0; i < 2; i++) {
        await writeFile(
          path.join(folder, sub, `${i}.png`),
          await syntheticImage({
            format: 'png',
            width: 32,
            height: 32,
            seed: i + (defect ? 50 : 0) + sub.length,
            defect,
          }),
        );
      }
    }
  });

  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('creates keys; the first run bootstraps an admin key in a 0600 file', async () => {
    const result = await vigil(['keys', 'create', '--role', 'operator', '--name', 'line-3', '--json'], dataDir);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const created = JSON.parse(result.stdout) as { secret: string; apiKey: { role: string; name: string } };
    expect(created.secret).toMatch(/^vgl_[A-Za-z0-9]{12}_/);
    expect(created.apiKey).toMatchObject({ role: 'OPERATOR', name: 'line-3' });
    const keyFile = await stat(path.join(dataDir, 'admin-api-key'));
    expect(keyFile.mode & 0o777).toBe(0o600);
  });

  it('imports an MVTec-layout folder into a new project and exports its manifest', async () => {
    const imported = await vigil(['import', folder, '--project', 'cli-demo', '--json'], dataDir);
    expect(imported.code).toBe(0);
    const job = JSON.parse(imported.stdout) as { status: string; summary: { layout: string; byDataset: unknown[] } };
    expect(job.status).toBe('SUCCEEDED');
    expect(job.summary.layout).toBe('mvtec');
    expect(job.summary.byDataset).toEqual(
      expect.arrayContaining([
        { type: 'TRAIN', normal: 2, anomaly: 0, unlabelled: 0 },
        { type: 'TEST', normal: 2, anomaly: 2, unlabelled: 0 },
      ]),
    );
    const exported = await vigil(['manifest', 'export', '--project', 'cli-demo', '--dataset', 'test'], dataDir);
    expect(exported.code).toBe(0);
    const lines = exported.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { 'source-ref': string });
    expect(lines).toHaveLength(4);
    expect(lines[0]?.['source-ref']).toMatch(/^vigil:\/\/objects\/[0-9a-f]{64}$/);
  });

  it('refuses bad arguments with a clear message and a non-zero exit', async () => {
    const result = await vigil(['keys', 'create', '--role', 'superuser'], dataDir);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/superuser/);
    const missing = await vigil(['manifest', 'export', '--project', 'no-such-project'], dataDir);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no-such-project/);
  });
});
