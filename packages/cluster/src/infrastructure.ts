import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { openDatabase, sql, type DatabaseHandle } from '@vigil/db';
import { childEnvironment } from './process';
import { REPOSITORY_ROOT } from './root';

const run = promisify(execFile);

/** `serverUrl` (any database on the server) pointed at database `name`. */
export function databaseUrlFor(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function onServer(serverUrl: string, statement: (admin: DatabaseHandle) => Promise<unknown>): Promise<void> {
  const admin = await openDatabase({ kind: 'postgres', url: serverUrl, poolSize: 1 });
  try {
    await statement(admin);
  } finally {
    await admin.close();
  }
}

export async function createDatabase(serverUrl: string, name: string): Promise<void> {
  await onServer(serverUrl, (admin) => sql`create database ${sql.id(name)}`.execute(admin.db));
}

/** Drops `name`, disconnecting whatever still holds it (a child that was killed mid-query). */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await onServer(serverUrl, (admin) => sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin.db));
}

/** Deletes every Redis key of a BullMQ prefix (never the whole shared Redis). */
export async function deleteQueueKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Runs the built CLI (`cli/bin/vigil.js`) with `args` and `env`, and returns its stdout. */
export async function runCli(
  args: readonly string[],
  env: Record<string, string>,
  root: string = REPOSITORY_ROOT,
): Promise<string> {
  const { stdout } = await run(process.execPath, [path.join(root, 'cli/bin/vigil.js'), ...args], {
    env: childEnvironment(env),
  });
  return stdout;
}
