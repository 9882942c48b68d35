import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { PackageWriter } from './service';

/** Package files to any S3-compatible bucket (the customer's; `SOURCE_S3_*` configures the client). */
export function s3PackageWriter(client: S3Client): PackageWriter {
  return {
    async write(location, bytes, contentType) {
      await client.send(
        new PutObjectCommand({ Bucket: location.bucket, Key: location.key, Body: bytes, ContentType: contentType }),
      );
    },
  };
}
