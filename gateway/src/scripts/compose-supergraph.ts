import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ingestionTypeDefs } from '@vigil/ingestion-service';
import { datasetTypeDefs } from '@vigil/dataset-service';
import { trainingTypeDefs } from '@vigil/training-service';
import { inferenceTypeDefs } from '@vigil/inference-service';
import { accessTypeDefs } from '../access/subgraph';
import { OPERATIONS_SUBGRAPH, operationsTypeDefs } from '../operations/subgraph';
import { composeSupergraph } from '../federation/compose';
import { ACCESS_SUBGRAPH, ACCESS_SUBGRAPH_URL, DEFAULT_SUBGRAPH_URLS } from '../distributed/subgraphs';

/**
 * Build step: composes every subgraph's schema and writes dist/supergraph.graphql, or fails the build
 * listing the composition errors. The URLs are defaults; the gateway's environment overrides them.
 */
function url(name: string): string {
  const value = DEFAULT_SUBGRAPH_URLS[name];
  if (!value) throw new Error(`no default URL for subgraph ${name}`);
  return value;
}

const out = path.resolve(__dirname, '..', 'supergraph.graphql');
try {
  const sdl = composeSupergraph([
    { name: ACCESS_SUBGRAPH, url: ACCESS_SUBGRAPH_URL, typeDefs: accessTypeDefs },
    { name: OPERATIONS_SUBGRAPH, url: `in-process://${OPERATIONS_SUBGRAPH}`, typeDefs: operationsTypeDefs },
    { name: 'ingestion', url: url('ingestion'), typeDefs: ingestionTypeDefs },
    { name: 'dataset', url: url('dataset'), typeDefs: datasetTypeDefs },
    { name: 'training', url: url('training'), typeDefs: trainingTypeDefs },
    { name: 'inference', url: url('inference'), typeDefs: inferenceTypeDefs },
  ]);
  writeFileSync(out, sdl);
  console.log(`supergraph composed: ${path.relative(process.cwd(), out)}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
