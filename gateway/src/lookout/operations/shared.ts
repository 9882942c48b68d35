import { ErrorCode, VigilError } from '@vigil/contracts';
import { runGraphQL } from '../backend';
import type { LookoutCall, LookoutDeps } from './types';

/** A Relay connection page as the services return it. */
export interface Connection<T> {
  nodes: T[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Lookout's `NextToken` for a page the services paged: their cursor, only while there is more. */
export function nextTokenOf(page: Connection<unknown>): { NextToken?: string } {
  return page.pageInfo.hasNextPage && page.pageInfo.endCursor ? { NextToken: page.pageInfo.endCursor } : {};
}

/** Lookout's timestamps are epoch seconds (with the milliseconds as a fraction). */
export function epochSeconds(iso: string | null | undefined): number | undefined {
  return iso ? Math.floor(new Date(iso).getTime()) / 1000 : undefined;
}

export function notFound(kind: string, id: string): VigilError {
  return new VigilError(ErrorCode.NotFound, `${kind} '${id}' was not found`, { entity: kind, id });
}

/** Runs a GraphQL operation on the gateway's supergraph as the caller, so roles and audit apply as in GraphQL. */
export function callGraphQL<T>(
  deps: LookoutDeps,
  call: LookoutCall,
  document: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  return runGraphQL<T>(deps.execute, call.context, document, variables);
}

/**
 * A query rooted at `project(name: $name)`. The only thing such a query can fail to find is the project, so a
 * not-found from the supergraph is reported as that project, under the name the caller sent.
 */
export async function queryProject<T>(
  deps: LookoutDeps,
  call: LookoutCall,
  name: string,
  document: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  try {
    return await callGraphQL<T>(deps, call, document, { name, ...variables });
  } catch (error) {
    if (error instanceof VigilError && error.code === ErrorCode.NotFound) throw notFound('project', name);
    throw error;
  }
}
