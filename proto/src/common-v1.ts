// Package vigil.common.v1: one line per .proto file of proto/vigil/common/v1 (a spec checks none is missing).
export * from './generated/vigil/common/v1/actor_pb';
export * from './generated/vigil/common/v1/inspection_pb';
export * from './generated/vigil/common/v1/metadata_pb';
