import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { REPOSITORY_ROOT } from './root';

/** A `dist/main.js` child: its name, the process, what it printed and the base URL it logged. */
export interface ClusterProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** The last lines it printed (pino JSON), for failure messages. */
  readonly output: string[];
  /** Its base URL (no /graphql). */
  readonly url: string;
}

export interface StartProcessOptions {
  /** How long to wait for the ready line before killing the child (default 30 s). */
  readonly timeoutMs?: number;
  /** How many output lines to keep (default 300). */
  readonly keepLines?: number;
  /** What a relative `script` is relative to (default: the repository root). */
  readonly root?: string;
}

/** The environment of a child: ours without NODE_OPTIONS (jest's VM-module flags break a plain node), plus `extra`. */
export function childEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env['NODE_OPTIONS'];
  return env;
}

/** Starts `node <script>` (e.g. `gateway/dist/main.js`) and resolves once it logs `readyMessage` (pino JSON) with the URL it logged. */
export function startProcess(
  name: string,
  script: string,
  env: Record<string, string>,
  readyMessage: string,
  options: StartProcessOptions = {},
): Promise<ClusterProcess> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const keepLines = options.keepLines ?? 300;
  const child = spawn(process.execPath, [path.resolve(options.root ?? REPOSITORY_ROOT, script)], {
    env: childEnvironment(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const remember = (line: string) => {
    output.push(line);
    if (output.length > keepLines) output.shift();
  };
  createInterface({ input: child.stderr }).on('line', remember);
  return new Promise<ClusterProcess>((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${timeoutMs / 1000} s:\n${output.join('\n')}`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${output.join('\n')}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      remember(line);
      if (ready) return;
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === readyMessage && entry.url) {
          ready = true;
          clearTimeout(timer);
          resolve({ name, child, output, url: entry.url.replace(/\/graphql$/, '') });
        }
      } catch {
        // Not a log line.
      }
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs` if it has not exited (a graceful stop drains its jobs first). */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Sends `signal` (SIGKILL: a crash) and waits for the exit. */
export async function killChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}
