export {
  startPlatform,
  type PlatformOptions,
  type RunningPlatform,
  ADMIN_KEY_FILE,
  SERVER_FILE,
} from './platform/platform';
export { openStorage, type Storage } from '@vigil/service-kit';
export { ApiKeyService, KyselyApiKeyRepository, type ApiKeySummary, type CreatedApiKey } from './auth/api-keys';
export { composeSupergraph } from './federation';
export { createGatewayApp } from './http/app';
