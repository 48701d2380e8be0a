/**
 * Payload encryption: every payload a Darkroom client or worker sends to Temporal (workflow
 * inputs and results, activity inputs and results, signals, queries, memos, failure messages) is sealed with AES-256-GCM before it
 * leaves the process, so the server and its database only hold ciphertext. Keys rotate by id:
 * the first key of DARKROOM_CODEC_KEYS encrypts, every key listed decrypts.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { METADATA_ENCODING_KEY, type DataConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { Config } from '../domain/config';
import { splitCodecKeys } from '../domain/codec-keys';

const { Payload: PayloadMessage } = proto.temporal.api.common.v1;

/** The `encoding` of an encrypted payload. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata naming the key that sealed a payload. */
export const KEY_ID_METADATA = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const text = new TextEncoder();

/** One AES-256 key and the id payloads name it by. */
export interface CodecKey {
  id: string;
  /** 32 bytes. */
  key: Uint8Array;
}

/** A payload names a key this process does not have (rotated out, or another deployment's). */
export class UnknownCodecKeyError extends Error {
  override readonly name = 'UnknownCodecKeyError';
  constructor(readonly keyId: string, readonly knownIds: readonly string[]) {
    super(`payload was encrypted with key id ${keyId}, which is not in DARKROOM_CODEC_KEYS (it has ${knownIds.join(', ')}); add that key to decrypt it`);
  }
}

/** A payload did not decrypt: altered after it was sealed, or sealed with other key bytes under the same id. */
export class PayloadDecryptionError extends Error {
  override readonly name = 'PayloadDecryptionError';
  constructor(readonly keyId: string, reason: string, options?: ErrorOptions) {
    super(`payload encrypted with key id ${keyId} did not decrypt: ${reason}`, options);
  }
}

/** Parses DARKROOM_CODEC_KEYS (already checked by the config schema; checked again for direct callers). */
export function parseCodecKeys(value: string): CodecKey[] {
  let entries;
  try {
    entries = splitCodecKeys(value);
  } catch (err) {
    throw new Error(`DARKROOM_CODEC_KEYS ${(err as Error).message}`);
  }
  return entries.map(({ id, base64 }) => ({ id, key: new Uint8Array(Buffer.from(base64, 'base64')) }));
}

/**
 * The AES-256-GCM {@link PayloadCodec}. An encrypted payload's data is IV (12 random bytes) ‖
 * ciphertext ‖ tag (16 bytes), where the plaintext is the whole original Payload protobuf, so its
 * metadata (encoding, message type) is hidden too; the key id is authenticated as associated
 * data, so relabelling a payload with another id fails like any other tampering.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly byId: ReadonlyMap<string, Uint8Array>;
  private readonly current: CodecKey;

  /** @param keys the current key first; every key decrypts. */
  constructor(keys: readonly CodecKey[]) {
    const [current] = keys;
    if (!current) throw new Error('EncryptionCodec needs at least one key');
    for (const k of keys) {
      if (k.key.length !== 32) throw new Error(`codec key ${k.id} is ${k.key.length} bytes; AES-256 needs 32`);
    }
    this.current = current;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** The id of the key new payloads are sealed with. */
  get currentKeyId(): string {
    return this.current.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
      cipher.setAAD(text.encode(this.current.id));
      const sealed = Buffer.concat([iv, cipher.update(PayloadMessage.encode(payload).finish()), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { [METADATA_ENCODING_KEY]: text.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: text.encode(this.current.id) },
        data: new Uint8Array(sealed),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
      // Payloads written before encryption was turned on still read as they are.
      if (!encoding || Buffer.from(encoding).toString() !== ENCRYPTED_ENCODING) return payload;
      const idBytes = payload.metadata?.[KEY_ID_METADATA];
      if (!idBytes) throw new PayloadDecryptionError('(none)', `the ${KEY_ID_METADATA} metadata is missing`);
      const keyId = Buffer.from(idBytes).toString();
      const key = this.byId.get(keyId);
      if (!key) throw new UnknownCodecKeyError(keyId, [...this.byId.keys()]);
      const data = payload.data ?? new Uint8Array();
      if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptionError(keyId, `${data.length} bytes is too short to be sealed`);
      let plain: Buffer;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
        decipher.setAAD(idBytes);
        decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch (err) {
        throw new PayloadDecryptionError(keyId, 'authentication failed (the payload was altered, or the key under that id is not the one that sealed it)', { cause: err });
      }
      return PayloadMessage.decode(plain) as Payload;
    });
  }
}

/** The codec DARKROOM_CODEC_KEYS describes, or undefined when it is unset (payloads stay plain). */
export function codecFromConfig(config: Pick<Config, 'DARKROOM_CODEC_KEYS'>): EncryptionCodec | undefined {
  return config.DARKROOM_CODEC_KEYS ? new EncryptionCodec(parseCodecKeys(config.DARKROOM_CODEC_KEYS)) : undefined;
}

/** The module whose `failureConverter` moves failure messages and stack traces into (encrypted) payloads. */
export const ENCRYPTING_FAILURE_CONVERTER_PATH = fileURLToPath(new URL('./failure-converter.cjs', import.meta.url));

/** The module whose `payloadConverter` turns a payload it cannot read into a marker workflow code refuses, rather than an error that fails the workflow task forever. */
export const READABLE_PAYLOAD_CONVERTER_PATH = fileURLToPath(new URL('./payload-converter.cjs', import.meta.url));

/**
 * The converters a workflow bundle is built with, as a worker bundling for itself builds it from
 * {@link darkroomDataConverter}: a pre-built bundle (DARKROOM_WORKFLOW_BUNDLE) must match.
 */
export function bundleConverters(encrypted: boolean): { payloadConverterPath: string; failureConverterPath?: string } {
  return { payloadConverterPath: READABLE_PAYLOAD_CONVERTER_PATH, ...(encrypted ? { failureConverterPath: ENCRYPTING_FAILURE_CONVERTER_PATH } : {}) };
}

/**
 * The data converter for clients and workers: payloads that cannot be read become a marker (see
 * temporal/payload-converter.cjs); with a codec, payloads are encrypted, and so are failure
 * messages and stack traces. A worker given a pre-built workflow bundle must have it built with
 * the same converters ({@link bundleConverters}).
 */
export function darkroomDataConverter(codec: PayloadCodec | undefined): DataConverter {
  return { ...bundleConverters(codec !== undefined), ...(codec ? { payloadCodecs: [codec] } : {}) };
}
