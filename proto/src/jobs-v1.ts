// Package vigil.jobs.v1: one line per .proto file of proto/vigil/jobs/v1 (a spec checks none is missing).
export * from './generated/vigil/jobs/v1/dataset_pb';
export * from './generated/vigil/jobs/v1/detection_pb';
export * from './generated/vigil/jobs/v1/ingestion_pb';
export * from './generated/vigil/jobs/v1/training_pb';
