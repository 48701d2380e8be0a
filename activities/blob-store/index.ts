import path from 'node:path';
import type { Config } from '../../domain/config';
import { FsBlobStore } from './fs';
import type { BlobStore } from './types';

export * from './types';
export { FsBlobStore, type FsBlobStoreOptions } from './fs';

/** The blob store a configuration names: the filesystem one under `<data dir>/blobs`. */
export function createBlobStore(config: Pick<Config, 'DARKROOM_DATA_DIR'> & Partial<Pick<Config, 'DARKROOM_BLOB_MAX_READ'>>): BlobStore {
  return new FsBlobStore(path.join(config.DARKROOM_DATA_DIR, 'blobs'), { maxReadBytes: config.DARKROOM_BLOB_MAX_READ });
}
