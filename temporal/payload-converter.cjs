// The payload converter of Darkroom's workers and clients: the SDK's default (undefined, binary,
// JSON), except that a payload it cannot read — an encoding it does not know, JSON that does not
// parse — becomes a marker value instead of an error. In workflow code that error came before any
// handler ran and failed the workflow task on every retry: one signal sent with
// `--input-meta encoding=made/up` wedged a brief for good. The marker reaches the workflow's own
// input checks, which refuse it by name (domain/unreadable.ts). An encrypted payload is never a
// marker: one that reaches this converter means a worker without DARKROOM_CODEC_KEYS, which must
// keep failing until it has them. Loaded by path — bundled into the workflow sandbox and
// require()d by workers and clients — hence plain CommonJS, and no Buffer (not in the sandbox).
/* global require, exports */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { DefaultPayloadConverter, METADATA_ENCODING_KEY } = require('@temporalio/common');

/** The one key of the marker (domain/unreadable.ts reads it). */
const UNREADABLE_KEY = 'darkroomUnreadablePayload';
const ENCRYPTED_ENCODING = 'binary/encrypted';

/** A metadata value as text: encodings are ASCII names, and at most 100 characters are shown. */
function ascii(bytes) {
  if (!bytes) return '';
  let out = '';
  for (let i = 0; i < bytes.length && i < 100; i++) out += String.fromCharCode(bytes[i] < 32 || bytes[i] > 126 ? 63 : bytes[i]);
  return out;
}

class ReadablePayloadConverter {
  constructor() {
    this.inner = new DefaultPayloadConverter();
  }

  toPayload(value, ...rest) {
    return this.inner.toPayload(value, ...rest);
  }

  fromPayload(payload, ...rest) {
    try {
      return this.inner.fromPayload(payload, ...rest);
    } catch (err) {
      const encoding = ascii(payload && payload.metadata ? payload.metadata[METADATA_ENCODING_KEY] : undefined);
      if (encoding === ENCRYPTED_ENCODING) throw err;
      const why = encoding === 'json/plain'
        ? 'it is marked json/plain but is not valid JSON'
        : encoding
          ? `its encoding "${encoding}" is not one Darkroom reads (send JSON: json/plain)`
          : 'it has no encoding (send JSON: json/plain)';
      return { [UNREADABLE_KEY]: why };
    }
  }
}

exports.payloadConverter = new ReadablePayloadConverter();
