import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startPlatform, type RunningPlatform } from '@vigil/gateway';
import { loadEnvironment, platformEnvironmentSchema, silentLogger } from '@vigil/service-kit';

export interface GraphQLResult<T> {
  readonly status: number;
  readonly data: T | null;
  readonly errors: { message: string; extensions?: { code?: string; details?: unknown } }[] | null;
  readonly error?: { code: string; message: string };
}

/** A running platform and an HTTP client for it, as an external client would see it. */
export class TestPlatform {
  private constructor(
    readonly platform: RunningPlatform,
    readonly adminKey: string,
    private readonly dataDir: string,
  ) {}

  static async start(env: Record<string, string> = {}): Promise<TestPlatform> {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-test-'));
    const environment = loadEnvironment(platformEnvironmentSchema, {
      VIGIL_DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      ...env,
    });
    const platform = await startPlatform({ environment, port: 0, host: '127.0.0.1', log: silentLogger() });
    if (!platform.firstAdminKey) throw new Error('a fresh platform must create an admin key');
    return new TestPlatform(platform, platform.firstAdminKey, dataDir);
  }

  get url(): string {
    return this.platform.url;
  }

  async graphql<T>(
    query: string,
    variables: Record<string, unknown> = {},
    key: string | null = this.adminKey,
  ): Promise<GraphQLResult<T>> {
    const response = await fetch(`${this.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as {
      data?: T;
      errors?: GraphQLResult<T>['errors'];
      error?: { code: string; message: string };
    };
    return {
      status: response.status,
      data: body.data ?? null,
      errors: body.errors ?? null,
      ...(body.error ? { error: body.error } : {}),
    };
  }

  /** Like graphql(), but fails the test on any error. */
  async ok<T>(query: string, variables: Record<string, unknown> = {}, key?: string): Promise<T> {
    const result = await this.graphql<T>(query, variables, key);
    if (result.errors || !result.data)
      throw new Error(`GraphQL failed: ${JSON.stringify(result.errors ?? result.error)}`);
    return result.data;
  }

  async waitForJob<T extends { status: string }>(
    field: string,
    id: string,
    selection: string,
    timeoutMs = 60_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const data = await this.ok<Record<string, T>>(`query($id: ID!) { ${field}(id: $id) { ${selection} } }`, { id });
      const job = data[field] as T;
      if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.status)) return job;
      if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async stop(): Promise<void> {
    await this.platform.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}
