import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { parseConfig } from '../../domain/config';
import { codecFromConfig, ENCRYPTED_ENCODING, EncryptionCodec, KEY_ID_METADATA, parseCodecKeys, PayloadDecryptionError, UnknownCodecKeyError } from '../../temporal/codec';

const key = () => randomBytes(32).toString('base64');
const k1 = key();
const k2 = key();
const secret = 'a glass bottle of olive oil on a stone table';
const plain = (): Payload => defaultPayloadConverter.toPayload({ subject: secret, n: 3 });
const str = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString();

describe('EncryptionCodec', () => {
  it('round-trips a payload, hiding its data and its metadata', async () => {
    const codec = new EncryptionCodec(parseCodecKeys(`k1:${k1}`));
    const [sealed] = await codec.encode([plain()]);
    expect(str(sealed!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(str(sealed!.metadata![KEY_ID_METADATA])).toBe('k1');
    expect(Object.keys(sealed!.metadata!).sort()).toEqual(['encoding', KEY_ID_METADATA]);
    expect(Buffer.from(sealed!.data!).includes(secret)).toBe(false);
    expect(Buffer.from(sealed!.data!).includes('json/plain')).toBe(false);
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual({ subject: secret, n: 3 });
    expect(str(opened!.metadata!.encoding)).toBe('json/plain');
  });

  it('uses a fresh IV for every payload, so equal inputs give different ciphertexts', async () => {
    const codec = new EncryptionCodec(parseCodecKeys(`k1:${k1}`));
    const [a, b] = await codec.encode([plain(), plain()]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
    expect(Buffer.from(a!.data!.subarray(0, 12)).equals(Buffer.from(b!.data!.subarray(0, 12)))).toBe(false);
  });

  it('rotates: payloads sealed with k1 still open after k2 becomes current, and new ones use k2', async () => {
    const before = codecFromConfig(parseConfig({ DARKROOM_CODEC_KEYS: `k1:${k1}` }))!;
    const [old] = await before.encode([plain()]);
    const after = codecFromConfig(parseConfig({ DARKROOM_CODEC_KEYS: `k2:${k2}, k1:${k1}` }))!;
    expect(after.currentKeyId).toBe('k2');
    const [fresh] = await after.encode([plain()]);
    expect(str(fresh!.metadata![KEY_ID_METADATA])).toBe('k2');
    const opened = await after.decode([old!, fresh!]);
    expect(opened.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([{ subject: secret, n: 3 }, { subject: secret, n: 3 }]);
    // k1 alone cannot read what k2 sealed, and says which key it needs.
    const err = await before.decode([fresh!]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownCodecKeyError);
    expect((err as Error).message).toBe('payload was encrypted with key id k2, which is not in DARKROOM_CODEC_KEYS (it has k1); add that key to decrypt it');
  });

  it('refuses a tampered payload, a relabelled key id, and other key bytes under the same id', async () => {
    const codec = new EncryptionCodec(parseCodecKeys(`k2:${k2},k1:${k1}`));
    const [sealed] = await codec.encode([plain()]);
    const flipped = new Uint8Array(sealed!.data!);
    flipped[20]! ^= 1;
    await expect(codec.decode([{ ...sealed!, data: flipped }])).rejects.toThrow(PayloadDecryptionError);
    await expect(codec.decode([{ ...sealed!, data: flipped }])).rejects.toThrow(/key id k2 did not decrypt: authentication failed/);
    const relabelled = { ...sealed!, metadata: { ...sealed!.metadata, [KEY_ID_METADATA]: new TextEncoder().encode('k1') } };
    await expect(codec.decode([relabelled])).rejects.toThrow(PayloadDecryptionError);
    const impostor = new EncryptionCodec(parseCodecKeys(`k2:${key()}`));
    await expect(impostor.decode([sealed!])).rejects.toThrow(PayloadDecryptionError);
    await expect(codec.decode([{ ...sealed!, data: sealed!.data!.subarray(0, 10) }])).rejects.toThrow(/too short/);
  });

  it('passes payloads that were never encrypted through unchanged', async () => {
    const codec = new EncryptionCodec(parseCodecKeys(`k1:${k1}`));
    const p = plain();
    expect(await codec.decode([p])).toEqual([p]);
  });
});

describe('DARKROOM_CODEC_KEYS', () => {
  const fail = (v: string) => {
    try {
      parseConfig({ DARKROOM_CODEC_KEYS: v });
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('parseConfig accepted it');
  };

  it('is optional: without it there is no codec', () => {
    expect(codecFromConfig(parseConfig({}))).toBeUndefined();
  });

  it('names the variable and the entry at fault, and never echoes a key', () => {
    const short = randomBytes(16).toString('base64');
    expect(fail(`k1:${short}`)).toBe('invalid configuration: DARKROOM_CODEC_KEYS key k1 is 16 bytes; AES-256 needs 32 (make one with: openssl rand -base64 32)');
    expect(fail(`k1:${short}`)).not.toContain(short);
    expect(fail(`k1:${k1},k1:${k2}`)).toBe('invalid configuration: DARKROOM_CODEC_KEYS key id k1 appears twice; ids must be unique');
    expect(fail(`k1:${k1},${k2}`)).toBe("invalid configuration: DARKROOM_CODEC_KEYS entry 2 must be id:<base64 of 32 bytes> (no ':' found)");
    expect(fail('k1:not base64!')).toBe('invalid configuration: DARKROOM_CODEC_KEYS key k1 is not base64');
    expect(fail(`bad id:${k1}`)).toMatch(/^invalid configuration: DARKROOM_CODEC_KEYS entry 1: the key id must be/);
    expect(fail(',')).toBe('invalid configuration: DARKROOM_CODEC_KEYS must list at least one key, as id:<base64 of 32 bytes>');
    for (const v of [`k1:${k1},${k2}`, `k1:${k1},k1:${k2}`]) expect(fail(v)).not.toContain(k2);
  });
});
