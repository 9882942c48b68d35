// Package vigil.events.v1: one line per .proto file of proto/vigil/events/v1 (a spec checks none is missing).
export * from './generated/vigil/events/v1/images_pb';
export * from './generated/vigil/events/v1/inspections_pb';
export * from './generated/vigil/events/v1/models_pb';
