import type { z } from 'zod';
import { errors } from '@vigil/contracts';
import type { LookoutCall } from './types';

/** Lookout's project names; also what the services accept as a project name. */
export const RESOURCE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]*$/;

/** Lookout's `ModelVersion`: the version number, as a string. */
export const MODEL_VERSION = /^[1-9][0-9]{0,9}$/;

export type DatasetType = 'train' | 'test';

/** The JSON body checked against `schema`; its first problem is the ValidationException message. */
export function jsonBody<T>(call: LookoutCall, schema: z.ZodType<T>): T {
  let raw: unknown = {};
  if (call.body.length > 0) {
    try {
      raw = JSON.parse(call.body.toString('utf8'));
    } catch {
      throw errors.badInput('the request body is not valid JSON');
    }
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw errors.badInput(`${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

export function projectNameParam(call: LookoutCall): string {
  const name = call.params['projectName'] ?? '';
  if (name.length < 1 || name.length > 255 || !RESOURCE_NAME.test(name)) {
    throw errors.badInput(`ProjectName '${name}' must be 1 to 255 letters, digits, hyphens or underscores`);
  }
  return name;
}

export function datasetTypeParam(call: LookoutCall): DatasetType {
  const type = call.params['datasetType'];
  if (type !== 'train' && type !== 'test') throw errors.badInput(`DatasetType must be 'train' or 'test'`);
  return type;
}

export function modelVersionParam(call: LookoutCall): number {
  const version = call.params['modelVersion'] ?? '';
  if (!MODEL_VERSION.test(version)) throw errors.badInput(`ModelVersion '${version}' must be a version number`);
  return Number(version);
}

/** A query parameter's first value: the SDKs send each once, a hand-made URL may repeat one. */
export function queryParam(call: LookoutCall, name: string): string | undefined {
  const value = call.query[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A query parameter that may repeat (UntagResource's `tagKeys`), as a list. */
export function queryParamList(call: LookoutCall, name: string): string[] {
  const value = call.query[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** `MaxResults`: Lookout's default and ceiling are both 100. */
export function pageSizeParam(call: LookoutCall): number {
  const raw = queryParam(call, 'maxResults');
  if (raw === undefined) return 100;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw errors.badInput('MaxResults must be between 1 and 100');
  return n;
}

/**
 * The offset in a NextToken of a list this layer pages itself (a project's models, which the service returns
 * whole). Lists the services page carry the service's cursor as the token instead.
 */
export function offsetTokenParam(call: LookoutCall): number {
  const token = queryParam(call, 'nextToken');
  if (token === undefined) return 0;
  const match = /^o:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  if (!match) throw errors.badInput('NextToken is not valid');
  return Number(match[1]);
}

export function offsetToken(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

/** A date filter in epoch milliseconds; the SDKs send epoch seconds, a hand-made URL may send ISO 8601. */
export function dateParam(call: LookoutCall, name: string): number | undefined {
  const raw = queryParam(call, name);
  if (raw === undefined) return undefined;
  const numeric = Number(raw);
  const ms = Number.isFinite(numeric) ? numeric * 1000 : Date.parse(raw);
  if (!Number.isFinite(ms)) throw errors.badInput(`${name} is not a valid date`);
  return ms;
}

/**
 * The services' own idempotency key for a call that carried X-Amzn-Client-Token, so a retry that races past this
 * layer's replay still creates nothing twice. `scope` names the operation and what it acts on.
 */
export function idempotencyKeyOf(call: LookoutCall, scope: string): { idempotencyKey?: string } {
  return call.clientToken ? { idempotencyKey: `lookout:${scope}:${call.clientToken}` } : {};
}
