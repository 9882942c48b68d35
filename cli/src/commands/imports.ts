import path from 'node:path';
import type { VigilClient } from '../client';
import { followJob, type JobState } from '../progress';
import { withClient, type GlobalOptions } from '../session';

const JOB_FIELDS = `id status progress { done total step percent } error { code message }
  summary { layout entriesCreated entriesUpdated imagesStored imagesDeduplicated masks
    byDataset { type normal anomaly unlabelled } warnings { line item message } failures { line item code message } }`;

interface DatasetImportJob extends JobState {
  id: string;
  summary: {
    layout: string | null;
    entriesCreated: number;
    entriesUpdated: number;
    imagesStored: number;
    imagesDeduplicated: number;
    masks: number;
    byDataset: { type: string; normal: number; anomaly: number; unlabelled: number }[];
    warnings: { line: number | null; item: string | null; message: string }[];
    failures: { line: number | null; item: string; code: string; message: string }[];
  } | null;
}

/** A local path becomes absolute (the server resolves it); URIs pass through. */
function normaliseSource(source: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(source) ? source : path.resolve(source);
}

async function ensureProject(client: VigilClient, name: string, create: boolean): Promise<void> {
  try {
    await client.graphql(`query P($name: String!) { project(name: $name) { id } }`, { name });
  } catch (error) {
    if (!create || (error as { code?: string }).code !== 'NOT_FOUND') throw error;
    await client.graphql(`mutation C($name: String!) { createProject(input: { name: $name }) { id } }`, { name });
    process.stderr.write(`created project '${name}'\n`);
  }
}

async function runImport(
  client: VigilClient,
  mutation: string,
  field: string,
  input: Record<string, unknown>,
  json: boolean,
): Promise<void> {
  const submitted = await client.graphql<Record<string, DatasetImportJob>>(mutation, { input });
  const id = submitted[field]?.id;
  if (!id) throw new Error('the server did not return a job');
  const job = await followJob(
    async () =>
      (
        await client.graphql<{ datasetImportJob: DatasetImportJob }>(
          `query J($id: ID!) { datasetImportJob(id: $id) { ${JOB_FIELDS} } }`,
          { id },
        )
      ).datasetImportJob,
    { label: 'import' },
  );
  if (json) process.stdout.write(`${JSON.stringify(job)}\n`);
  else printSummary(job);
  if (job.status !== 'SUCCEEDED') process.exitCode = 1;
}

function printSummary(job: DatasetImportJob): void {
  if (job.status !== 'SUCCEEDED') {
    process.stdout.write(`import ${job.status.toLowerCase()}: ${job.error?.code ?? ''} ${job.error?.message ?? ''}\n`);
    return;
  }
  const s = job.summary;
  if (!s) return;
  process.stdout.write(
    `import done${s.layout ? ` (${s.layout} layout)` : ''}: ${s.entriesCreated} entries created, ${s.entriesUpdated} updated; ${s.imagesStored} images stored, ${s.imagesDeduplicated} already known; ${s.masks} masks\n`,
  );
  for (const d of s.byDataset)
    process.stdout.write(
      `  ${d.type.toLowerCase()}: ${d.normal} normal, ${d.anomaly} anomaly, ${d.unlabelled} unlabelled\n`,
    );
  for (const w of s.warnings.slice(0, 20))
    process.stdout.write(`  warning${w.line ? ` line ${w.line}` : ''}${w.item ? ` ${w.item}` : ''}: ${w.message}\n`);
  for (const f of s.failures.slice(0, 20))
    process.stdout.write(`  failed${f.line ? ` line ${f.line}` : ''} ${f.item}: ${f.code} ${f.message}\n`);
}

export async function importFolderCommand(
  source: string,
  options: GlobalOptions & {
    project: string;
    dataset?: string;
    label?: string;
    labelFromName?: boolean;
    createProject?: boolean;
    json?: boolean;
  },
): Promise<void> {
  await withClient(options, async (client) => {
    await ensureProject(client, options.project, options.createProject ?? true);
    const input = {
      project: { name: options.project },
      source: normaliseSource(source),
      ...(options.dataset ? { datasetType: options.dataset.toUpperCase() } : {}),
      ...(options.label ? { label: options.label.toUpperCase() } : {}),
      ...(options.labelFromName ? { labelFromFileName: true } : {}),
    };
    await runImport(
      client,
      `mutation I($input: ImportFolderInput!) { importFolder(input: $input) { id } }`,
      'importFolder',
      input,
      options.json ?? false,
    );
  });
}

export async function importManifestCommand(
  manifest: string,
  options: GlobalOptions & {
    project: string;
    dataset: string;
    allowPartial?: boolean;
    createProject?: boolean;
    json?: boolean;
  },
): Promise<void> {
  await withClient(options, async (client) => {
    await ensureProject(client, options.project, options.createProject ?? true);
    const input = {
      project: { name: options.project },
      datasetType: options.dataset.toUpperCase(),
      manifestUri: normaliseSource(manifest),
      allowPartial: options.allowPartial ?? false,
    };
    await runImport(
      client,
      `mutation M($input: ImportManifestInput!) { importManifest(input: $input) { id } }`,
      'importManifest',
      input,
      options.json ?? false,
    );
  });
}

export async function exportManifestCommand(
  options: GlobalOptions & { project: string; dataset: string; out?: string },
): Promise<void> {
  await withClient(options, async (client) => {
    const data = await client.graphql<{ project: { dataset: { id: string } | null } }>(
      `query D($name: String!, $type: DatasetType!) { project(name: $name) { dataset(type: $type) { id } } }`,
      { name: options.project, type: options.dataset.toUpperCase() },
    );
    if (!data.project.dataset) throw new Error(`project '${options.project}' has no ${options.dataset} dataset`);
    const exported = await client.graphql<{ exportManifest: { manifest: string; lines: number } }>(
      `query E($id: ID!) { exportManifest(datasetId: $id) { manifest lines } }`,
      { id: data.project.dataset.id },
    );
    if (options.out) {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(options.out, exported.exportManifest.manifest);
      process.stderr.write(`wrote ${exported.exportManifest.lines} lines to ${options.out}\n`);
    } else {
      process.stdout.write(exported.exportManifest.manifest);
    }
  });
}
