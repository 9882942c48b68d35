import { Kind, parse, type EnumTypeDefinitionNode } from 'graphql';
import { VigilError, ErrorCode } from '@vigil/contracts';

/** The gateway's own subgraph (API keys, viewer, audit log): always served in the gateway's process. */
export const ACCESS_SUBGRAPH = 'access';
export const ACCESS_SUBGRAPH_URL = `in-process://${ACCESS_SUBGRAPH}`;

/**
 * Where the remote subgraphs listen by default (each service's default PORT). The supergraph composed at
 * build time carries these; at run time INGESTION_URL, DATASET_URL, TRAINING_URL, INFERENCE_URL or SUBGRAPHS override them.
 */
export const DEFAULT_SUBGRAPH_URLS: Readonly<Record<string, string>> = {
  ingestion: 'http://localhost:4001/graphql',
  dataset: 'http://localhost:4002/graphql',
  training: 'http://localhost:4003/graphql',
  inference: 'http://localhost:4004/graphql',
};

const NAME = /^[a-z][a-z0-9_-]*$/;

/** Parses `name=url,name=url` (whitespace allowed); throws listing every bad entry. */
export function parseSubgraphList(value: string): Map<string, string> {
  const result = new Map<string, string>();
  const problems: string[] = [];
  for (const entry of value
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const separator = entry.indexOf('=');
    const name = separator > 0 ? entry.slice(0, separator).trim() : '';
    const url = separator > 0 ? entry.slice(separator + 1).trim() : '';
    if (!NAME.test(name)) problems.push(`'${entry}': expected name=url with a lower-case name`);
    else if (name === ACCESS_SUBGRAPH) problems.push(`'${name}' is served by the gateway itself`);
    else if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
      problems.push(`'${entry}': ${url || '(empty)'} is not an http(s) URL`);
    else if (result.has(name)) problems.push(`'${name}' is listed twice`);
    else result.set(name, url);
  }
  if (problems.length > 0) throw new VigilError(ErrorCode.BadUserInput, problems.join('; '));
  return result;
}

/** The subgraphs a supergraph SDL names, with their URLs (its `join__Graph` enum). */
export function supergraphSubgraphs(supergraphSdl: string): Map<string, string> {
  const document = parse(supergraphSdl);
  const graphs = document.definitions.find(
    (d): d is EnumTypeDefinitionNode => d.kind === Kind.ENUM_TYPE_DEFINITION && d.name.value === 'join__Graph',
  );
  if (!graphs) throw new VigilError(ErrorCode.BadUserInput, 'not a supergraph: it has no join__Graph enum');
  const result = new Map<string, string>();
  for (const value of graphs.values ?? []) {
    const directive = value.directives?.find((d) => d.name.value === 'join__graph');
    const argument = (name: string) => {
      const node = directive?.arguments?.find((a) => a.name.value === name)?.value;
      return node?.kind === Kind.STRING ? node.value : undefined;
    };
    const name = argument('name');
    if (name) result.set(name, argument('url') ?? '');
  }
  return result;
}
