import { z } from 'zod';
import { errors } from '@vigil/contracts';
import { arnOf, parseArn } from '../arn';
import { LookoutError } from '../errors';
import { findModel, findProject } from './lookups';
import { jsonBody, queryParamList } from './request';
import type { LookoutCall, LookoutDeps, LookoutOperation } from './types';

/** Lookout's limit of tags on one resource; above it, ServiceQuotaExceededException. */
const MAX_TAGS_PER_RESOURCE = 200;

const Tag = z.object({
  Key: z
    .string()
    .min(1)
    .max(128)
    .refine((k) => !k.toLowerCase().startsWith('aws:'), 'aws: is a reserved prefix'),
  Value: z.string().max(256),
});

/** Tags in a request body (TagResource, CreateModel's `Tags`). */
export const TagList = z.array(Tag).max(MAX_TAGS_PER_RESOURCE);

const TagResourceBody = z.object({ Tags: TagList.min(1) });

/** Lookout's `[{Key, Value}]` as the store's map (a key given twice keeps its last value). */
export function tagMap(tags: readonly z.infer<typeof Tag>[]): Record<string, string> {
  return Object.fromEntries(tags.map((t) => [t.Key, t.Value]));
}

/** The canonical ARN of the project or model a tag call names, which must exist. */
async function taggedResource(call: LookoutCall, deps: LookoutDeps): Promise<string> {
  const raw = call.params['resourceArn'] ?? '';
  const resource = parseArn(deps.arns, raw);
  if (!resource) throw errors.badInput(`'${raw}' is not the ARN of a project or model of this deployment`);
  // Tags only on what exists: a project's or model's are dropped when it is deleted, none may outlive it.
  if (resource.kind === 'project') await findProject(deps, call, resource.project);
  else await findModel(deps, call, resource.project, Number(resource.version));
  return arnOf(deps.arns, resource);
}

/** TagResource, UntagResource, ListTagsForResource: tags are this layer's own (`lookout_tags`). */
export const tagOperations: readonly LookoutOperation[] = [
  {
    name: 'TagResource',
    method: 'POST',
    path: '/tags/:resourceArn',
    idempotent: false,
    async handle(call, deps) {
      const body = jsonBody(call, TagResourceBody);
      const arn = await taggedResource(call, deps);
      const added = tagMap(body.Tags);
      const count = Object.keys({ ...(await deps.store.tags(arn)), ...added }).length;
      if (count > MAX_TAGS_PER_RESOURCE) {
        throw new LookoutError(
          'ServiceQuotaExceededException',
          `a resource can have at most ${MAX_TAGS_PER_RESOURCE} tags (it would have ${count})`,
          { QuotaCode: 'tags-per-resource', ServiceCode: 'lookoutvision', ResourceId: arn, ResourceType: 'tag' },
        );
      }
      await deps.store.putTags(arn, added);
      return { status: 200, body: {} };
    },
  },
  {
    name: 'UntagResource',
    method: 'DELETE',
    path: '/tags/:resourceArn',
    idempotent: false,
    async handle(call, deps) {
      const keys = queryParamList(call, 'tagKeys');
      if (keys.length === 0) throw errors.badInput('TagKeys must name at least one tag');
      const arn = await taggedResource(call, deps);
      await deps.store.removeTags(arn, keys);
      return { status: 200, body: {} };
    },
  },
  {
    name: 'ListTagsForResource',
    method: 'GET',
    path: '/tags/:resourceArn',
    idempotent: false,
    async handle(call, deps) {
      const arn = await taggedResource(call, deps);
      const tags = await deps.store.tags(arn);
      return { status: 200, body: { Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) } };
    },
  },
];
