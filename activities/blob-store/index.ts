import path from 'node:path';
import type { Config } from '../../domain/config';
import { FsBlobStore } from './fs';
import { S3BlobStore } from './s3';
import type { BlobStore } from './types';

export * from './types';
export { FsBlobStore, type FsBlobStoreOptions } from './fs';
export { S3BlobStore, S3BlobStoreError, type S3BlobStoreOptions } from './s3';

type S3Keys = 'DARKROOM_BLOB_STORE' | 'DARKROOM_S3_BUCKET' | 'DARKROOM_S3_PREFIX' | 'DARKROOM_S3_REGION' | 'DARKROOM_S3_ENDPOINT' | 'DARKROOM_S3_FORCE_PATH_STYLE' | 'DARKROOM_S3_PRESIGN_ENDPOINT';

/**
 * The blob store a configuration names: the filesystem one under `<data dir>/blobs` (the
 * default), or a bucket when DARKROOM_BLOB_STORE=s3.
 * @param env where AWS_REGION is looked up when DARKROOM_S3_REGION is unset
 */
export function createBlobStore(
  config: Pick<Config, 'DARKROOM_DATA_DIR'> & Partial<Pick<Config, 'DARKROOM_BLOB_MAX_READ' | S3Keys>>,
  env: NodeJS.ProcessEnv = process.env,
): BlobStore {
  if (config.DARKROOM_BLOB_STORE !== 's3') {
    return new FsBlobStore(path.join(config.DARKROOM_DATA_DIR, 'blobs'), { maxReadBytes: config.DARKROOM_BLOB_MAX_READ });
  }
  if (!config.DARKROOM_S3_BUCKET) throw new Error('DARKROOM_BLOB_STORE=s3 needs DARKROOM_S3_BUCKET (the bucket to keep blobs in)');
  const region = config.DARKROOM_S3_REGION || env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!region) throw new Error('DARKROOM_BLOB_STORE=s3 needs DARKROOM_S3_REGION (or AWS_REGION), e.g. us-east-1');
  return new S3BlobStore({
    bucket: config.DARKROOM_S3_BUCKET,
    prefix: config.DARKROOM_S3_PREFIX,
    region,
    endpoint: config.DARKROOM_S3_ENDPOINT,
    forcePathStyle: config.DARKROOM_S3_FORCE_PATH_STYLE,
    presignEndpoint: config.DARKROOM_S3_PRESIGN_ENDPOINT,
    maxReadBytes: config.DARKROOM_BLOB_MAX_READ,
  });
}
