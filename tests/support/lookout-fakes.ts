import type { DatasetJobRef, LookoutStore, ModelOutput, StoredResponse } from '../../gateway/src/lookout';

/** The Lookout layer's store in memory, for tests that run its router over fake backends. */
export class InMemoryLookoutStore implements LookoutStore {
  private readonly tagMap = new Map<string, Map<string, string>>();
  private readonly responses = new Map<string, StoredResponse>();
  private readonly jobs = new Map<string, DatasetJobRef[]>();
  private readonly outputs = new Map<string, ModelOutput>();

  async tags(arn: string): Promise<Record<string, string>> {
    return Object.fromEntries([...(this.tagMap.get(arn) ?? new Map<string, string>())].sort());
  }
  async putTags(arn: string, tags: Record<string, string>): Promise<void> {
    const existing = this.tagMap.get(arn) ?? new Map<string, string>();
    for (const [k, v] of Object.entries(tags)) existing.set(k, v);
    this.tagMap.set(arn, existing);
  }
  async removeTags(arn: string, keys: readonly string[]): Promise<void> {
    for (const key of keys) this.tagMap.get(arn)?.delete(key);
  }
  async dropTags(arnPrefix: string): Promise<void> {
    for (const arn of [...this.tagMap.keys()]) if (arn.startsWith(arnPrefix)) this.tagMap.delete(arn);
  }
  async findResponse(principalId: string, operation: string, token: string): Promise<StoredResponse | undefined> {
    return this.responses.get(`${principalId}\n${operation}\n${token}`);
  }
  async saveResponse(principalId: string, operation: string, token: string, response: StoredResponse): Promise<void> {
    const key = `${principalId}\n${operation}\n${token}`;
    if (!this.responses.has(key)) this.responses.set(key, response);
  }
  async recordDatasetJob(projectId: string, datasetType: 'train' | 'test', job: DatasetJobRef): Promise<void> {
    const key = `${projectId}/${datasetType}`;
    this.jobs.set(key, [...(this.jobs.get(key) ?? []), job]);
  }
  async latestDatasetJob(projectId: string, datasetType: 'train' | 'test'): Promise<DatasetJobRef | undefined> {
    return this.jobs.get(`${projectId}/${datasetType}`)?.at(-1);
  }
  async forgetDatasetJobs(projectId: string, datasetType: 'train' | 'test'): Promise<void> {
    this.jobs.delete(`${projectId}/${datasetType}`);
  }
  async saveModelOutput(modelVersionId: string, output: { bucket: string; prefix: string }): Promise<void> {
    if (!this.outputs.has(modelVersionId))
      this.outputs.set(modelVersionId, { ...output, manifestKey: null, resultKey: null });
  }
  async modelOutput(modelVersionId: string): Promise<ModelOutput | undefined> {
    return this.outputs.get(modelVersionId);
  }
  async markModelOutputWritten(
    modelVersionId: string,
    keys: { manifestKey: string; resultKey: string },
  ): Promise<void> {
    const output = this.outputs.get(modelVersionId);
    if (output) this.outputs.set(modelVersionId, { ...output, ...keys });
  }
}
