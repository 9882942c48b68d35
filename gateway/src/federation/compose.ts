import { composeServices } from '@apollo/composition';
import type { DocumentNode } from 'graphql';
import { VigilError, ErrorCode } from '@vigil/contracts';

export interface SubgraphSchema {
  readonly name: string;
  readonly url: string;
  readonly typeDefs: DocumentNode;
}

/** Composes subgraph schemas into a supergraph SDL, or fails listing every composition error. */
export function composeSupergraph(subgraphs: readonly SubgraphSchema[]): string {
  const result = composeServices(subgraphs.map((s) => ({ name: s.name, url: s.url, typeDefs: s.typeDefs })));
  if (result.errors && result.errors.length > 0) {
    throw new VigilError(
      ErrorCode.Internal,
      `the subgraphs do not compose:\n${result.errors.map((e) => `  - ${e.message}`).join('\n')}`,
      { errors: result.errors.map((e) => e.message) },
    );
  }
  if (!result.supergraphSdl) throw new VigilError(ErrorCode.Internal, 'composition produced no supergraph');
  return result.supergraphSdl;
}
