export {
  Cluster,
  SERVICE_NAMES,
  type ClusterObjectStore,
  type ClusterOptions,
  type GraphQLResult,
  type ServiceName,
} from './cluster';
export { createDatabase, databaseUrlFor, deleteQueueKeys, dropDatabase, runCli } from './infrastructure';
export { REPOSITORY_ROOT } from './root';
export {
  childEnvironment,
  killChild,
  startProcess,
  stopChild,
  type ClusterProcess,
  type StartProcessOptions,
} from './process';
