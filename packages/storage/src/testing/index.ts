export { startS3rver, S3RVER_CREDENTIALS, type RunningS3rver } from './s3rver';
export { describeObjectStoreContract, type ObjectStoreContractOptions } from './object-store-contract';
