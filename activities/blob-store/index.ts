import path from 'node:path';
import type { Config } from '../../domain/config';
import { FsBlobStore } from './fs';
import type { BlobStore } from './types';

export * from './types';
export { FsBlobStore } from './fs';

/** The blob store a configuration names: the filesystem one under `<data dir>/blobs`. */
export function createBlobStore(config: Pick<Config, 'DARKROOM_DATA_DIR'>): BlobStore {
  return new FsBlobStore(path.join(config.DARKROOM_DATA_DIR, 'blobs'));
}
