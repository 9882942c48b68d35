/**
 * Vigil's cross-service contracts. The messages are generated from proto/vigil/**\/*.proto at build time; each
 * versioned protobuf package is one namespace here, so a v2 can live beside v1.
 */
export * as commonV1 from './common-v1';
export * as jobsV1 from './jobs-v1';
export * as eventsV1 from './events-v1';
export { encodeJson, decodeJson } from './codec';
export { EVENTS_QUEUE } from './event-queue';
export { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
export {
  actorFromProto,
  actorToProto,
  captureMetadataFromProto,
  captureMetadataToProto,
  oneOf,
  requireText,
  type JobActor,
} from './domain';
export { create, type JsonObject, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
