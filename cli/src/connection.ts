import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Connection } from './client';

export interface ConnectionOptions {
  readonly url?: string;
  readonly apiKey?: string;
  readonly dataDir: string;
}

async function readTrimmed(file: string): Promise<string | null> {
  try {
    return (await readFile(file, 'utf8')).trim() || null;
  } catch {
    return null;
  }
}

async function isHealthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    return response.status < 500;
  } catch {
    return false;
  }
}

/**
 * Where the CLI sends its requests: --url/--api-key (or VIGIL_URL/VIGIL_API_KEY) when given; otherwise the
 * embedded server running on this data directory (its server.json and admin key file). Null when no server
 * is running: the caller then starts an embedded platform for the duration of the command.
 */
export async function findConnection(options: ConnectionOptions): Promise<Connection | null> {
  const apiKey = options.apiKey ?? (await readTrimmed(path.join(options.dataDir, 'admin-api-key')));
  if (options.url) {
    if (!apiKey) throw new Error('an API key is needed: pass --api-key or set VIGIL_API_KEY');
    return { url: options.url.replace(/\/+$/, ''), apiKey };
  }
  const serverFile = await readTrimmed(path.join(options.dataDir, 'server.json'));
  if (!serverFile) return null;
  let url: string;
  try {
    url = (JSON.parse(serverFile) as { url: string }).url;
  } catch {
    return null;
  }
  if (!(await isHealthy(url))) return null;
  if (!apiKey)
    throw new Error(`Vigil is running at ${url}, but no API key was given: pass --api-key or set VIGIL_API_KEY`);
  return { url, apiKey };
}
