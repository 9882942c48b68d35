export type { ObjectInfo, ObjectStore, PutOptions } from './object-store';
export { assertObjectKey, assertObjectPrefix, compareKeys, MAX_KEY_BYTES } from './keys';
export { LocalDiskObjectStore } from './local-disk-object-store';
export {
  S3ObjectStore,
  createS3Client,
  parseS3Url,
  type CreateS3ClientOptions,
  type S3Location,
  type S3ObjectStoreOptions,
} from './s3-object-store';
export {
  DEFAULT_CONTENT_NAMESPACE,
  contentKey,
  putContentAddressed,
  sha256Hex,
  type ContentAddressedObject,
  type PutContentAddressedOptions,
} from './content-addressed';
export * from './sources';
