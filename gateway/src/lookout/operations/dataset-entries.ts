import { z } from 'zod';
import { errors } from '@vigil/contracts';
import { findDataset, findProject } from './lookups';
import {
  dateParam,
  datasetTypeParam,
  idempotencyKeyOf,
  jsonBody,
  pageSizeParam,
  projectNameParam,
  queryParam,
} from './request';
import { callGraphQL, type Connection } from './shared';
import type { LookoutOperation } from './types';

const UpdateEntriesBody = z.object({ Changes: z.string().min(1) });

interface EntryNode {
  id: string;
  image: { id: string };
  label: 'NORMAL' | 'ANOMALY' | 'UNLABELLED';
  mask: { objectKey: string; classes: { name: string; color: string }[] } | null;
  sourceRef: string | null;
  createdAt: string;
}

/** A dataset entry as a line of a Lookout manifest (classification, and segmentation when it has a mask). */
function manifestLine(entry: EntryNode): string {
  const line: Record<string, unknown> = { 'source-ref': entry.sourceRef ?? `vigil://objects/${entry.image.id}` };
  if (entry.label !== 'UNLABELLED') {
    const anomaly = entry.label === 'ANOMALY';
    line['anomaly-label'] = anomaly ? 1 : 0;
    line['anomaly-label-metadata'] = {
      'class-name': anomaly ? 'anomaly' : 'normal',
      'creation-date': entry.createdAt,
      'human-annotated': 'yes',
      'job-name': 'labeling-job/vigil',
      type: 'groundtruth/image-classification',
      confidence: 1,
    };
  }
  if (entry.mask) {
    const key = entry.mask.objectKey.split('/').pop() ?? entry.mask.objectKey;
    line['anomaly-mask-ref'] = `vigil://objects/${key}`;
    line['anomaly-mask-ref-metadata'] = {
      'internal-color-map': Object.fromEntries(
        entry.mask.classes.map((c, i) => [String(i), { 'class-name': c.name, 'hex-color': c.color }]),
      ),
      type: 'groundtruth/semantic-segmentation',
      'human-annotated': 'yes',
      'creation-date': entry.createdAt,
      'job-name': 'labeling-job/vigil',
    };
  }
  return JSON.stringify(line);
}

/** ListDatasetEntries, UpdateDatasetEntries. */
export const datasetEntryOperations: readonly LookoutOperation[] = [
  {
    name: 'ListDatasetEntries',
    method: 'GET',
    path: '/projects/:projectName/datasets/:datasetType/entries',
    idempotent: false,
    async handle(call, deps) {
      const type = datasetTypeParam(call);
      const limit = pageSizeParam(call);
      const labeled = queryParam(call, 'labeled');
      if (labeled !== undefined && labeled !== 'true' && labeled !== 'false')
        throw errors.badInput('Labeled must be true or false');
      const anomalyClass = queryParam(call, 'anomalyClass');
      if (anomalyClass !== undefined && anomalyClass !== 'normal' && anomalyClass !== 'anomaly') {
        throw errors.badInput("AnomalyClass must be 'normal' or 'anomaly'");
      }
      const before = dateParam(call, 'createdBefore');
      const after = dateParam(call, 'createdAfter');
      const contains = queryParam(call, 'sourceRefContains');
      const label = anomalyClass ? anomalyClass.toUpperCase() : labeled === 'false' ? 'UNLABELLED' : undefined;
      const project = await findProject(deps, call, projectNameParam(call));
      const dataset = findDataset(project, type);

      const matches = (entry: EntryNode): boolean => {
        if (labeled === 'true' && entry.label === 'UNLABELLED') return false;
        const created = Date.parse(entry.createdAt);
        if (before !== undefined && !(created < before)) return false;
        if (after !== undefined && !(created > after)) return false;
        if (contains !== undefined && !(entry.sourceRef ?? '').includes(contains)) return false;
        return true;
      };
      // The filters the dataset service has run there; the rest here, asking only for as many entries as are
      // still missing so the service's cursor after a page is always exactly the resume point.
      const lines: string[] = [];
      let cursor = queryParam(call, 'nextToken');
      let more = true;
      while (more && lines.length < limit) {
        const data = await callGraphQL<{ dataset: { entries: Connection<EntryNode> } }>(
          deps,
          call,
          `query LookoutEntries($id: ID!, $label: EntryLabel, $first: Int, $after: String) { dataset(id: $id) {
            entries(label: $label, first: $first, after: $after) {
              nodes { id image { id } label mask { objectKey classes { name color } } sourceRef createdAt }
              pageInfo { hasNextPage endCursor } } } }`,
          {
            id: dataset.id,
            first: limit - lines.length,
            ...(label ? { label } : {}),
            ...(cursor ? { after: cursor } : {}),
          },
        );
        const page = data.dataset.entries;
        for (const entry of page.nodes) if (matches(entry)) lines.push(manifestLine(entry));
        more = page.pageInfo.hasNextPage && page.pageInfo.endCursor !== null;
        cursor = page.pageInfo.endCursor ?? undefined;
      }
      return { status: 200, body: { DatasetEntries: lines, ...(more && cursor ? { NextToken: cursor } : {}) } };
    },
  },
  {
    name: 'UpdateDatasetEntries',
    method: 'PATCH',
    path: '/projects/:projectName/datasets/:datasetType/entries',
    idempotent: true,
    async handle(call, deps) {
      const type = datasetTypeParam(call);
      const body = jsonBody(call, UpdateEntriesBody);
      const manifestText = Buffer.from(body.Changes, 'base64').toString('utf8');
      if (manifestText.trim() === '') throw errors.badInput('Changes holds no manifest lines');
      const project = await findProject(deps, call, projectNameParam(call));
      // Only to answer ResourceNotFoundException for a dataset that does not exist; the import names it by type.
      findDataset(project, type);
      const job = await callGraphQL<{ importManifest: { id: string } }>(
        deps,
        call,
        'mutation LookoutUpdateEntries($input: ImportManifestInput!) { importManifest(input: $input) { id } }',
        {
          input: {
            project: { id: project.id },
            datasetType: type.toUpperCase(),
            manifestText,
            ...idempotencyKeyOf(call, `UpdateDatasetEntries:${project.id}:${type}`),
          },
        },
      );
      await deps.store.recordDatasetJob(project.id, type, { jobId: job.importManifest.id, kind: 'update' });
      return { status: 202, body: { Status: 'UPDATE_IN_PROGRESS' } };
    },
  },
];
