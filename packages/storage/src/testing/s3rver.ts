import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../s3-object-store';

export interface RunningS3rver {
  /** e.g. http://127.0.0.1:40123 */
  readonly endpoint: string;
  /** A path-style client with s3rver's fixed credentials, checksums only when required. */
  readonly client: S3Client;
  createBucket(name: string): Promise<void>;
  /** Closes the client, stops the server and removes its data directory. */
  stop(): Promise<void>;
}

/** s3rver accepts any request signed with these. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

const STARTUP_TIMEOUT_MS = 15_000;

// Runs in the child: plain JS, so it needs no transpiler. It exits when the parent closes stdin, so a
// crashed test run cannot leave a server behind.
const SERVER_SCRIPT = `
const S3rver = require(process.env.S3RVER_MODULE);
const server = new S3rver({
  address: '127.0.0.1', port: 0, silent: true, directory: process.env.S3RVER_DIRECTORY, vhostBuckets: false,
});
server.run().then(
  (address) => process.stdout.write(JSON.stringify({ port: address.port }) + '\\n'),
  (error) => { process.stderr.write(String(error && error.stack || error)); process.exit(1); },
);
const shutdown = () => server.close().catch(() => undefined).then(() => process.exit(0));
process.on('SIGTERM', shutdown);
process.stdin.on('end', shutdown);
process.stdin.resume();
`;

/**
 * A real S3 protocol server (s3rver) on a random loopback port, storing into a fresh temp dir. For tests:
 * start one per test file in beforeAll and stop it in afterAll.
 *
 * It runs in a child process started with --openssl-legacy-provider: s3rver encrypts ListObjectsV2
 * continuation tokens with DES, which OpenSSL 3 only offers through its legacy provider, so in-process
 * pagination would fail with an InternalError.
 */
export async function startS3rver(): Promise<RunningS3rver> {
  const directory = await mkdtemp(path.join(tmpdir(), 'vigil-s3rver-'));
  let child: ChildProcess | undefined;
  let port: number;
  try {
    ({ child, port } = await spawnServer(directory, ['--openssl-legacy-provider']).catch(() =>
      // A Node built against a system OpenSSL may refuse the flag; everything but pagination still works.
      spawnServer(directory, []),
    ));
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  const running = child;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = createS3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
  });
  let stopped = false;
  return {
    endpoint,
    client,
    async createBucket(name: string) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      client.destroy();
      await stopChild(running);
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function spawnServer(directory: string, nodeFlags: string[]): Promise<{ child: ChildProcess; port: number }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    S3RVER_MODULE: require.resolve('s3rver'),
    S3RVER_DIRECTORY: directory,
  };
  // jest's --experimental-vm-modules is of no use to the server and only adds a warning.
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [...nodeFlags, '-e', SERVER_SCRIPT], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`s3rver did not start within ${STARTUP_TIMEOUT_MS} ms: ${stderr}`));
    }, STARTUP_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with code ${code}: ${stderr}`));
    });
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      lines.close();
      try {
        const { port } = JSON.parse(line) as { port: number };
        resolve({ child, port });
      } catch {
        child.kill('SIGKILL');
        reject(new Error(`unexpected output from s3rver: ${line}`));
      }
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.stdin?.end();
  });
}
