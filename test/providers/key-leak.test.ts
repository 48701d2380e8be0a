import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError, ProviderUnavailableError } from '../../activities/providers';
import { ECHO_LIMIT } from '../../domain/text';
import { expectNoKey, exposed } from './contract/exposure';
import { CAPABILITIES, rejection, startVendor, VENDORS, type VendorUnderTest } from './contract/vendors';
import type { LeakKind } from './fake-http';
import type { ReplicateLeakKind } from './fake-replicate';

/**
 * A gateway (or a vendor) that repeats the caller's key in everything it answers: every field of
 * an error body, nested objects, field names, headers, a 200 that does not fit the schema, a 200
 * that is not JSON. Whatever an adapter throws is serialised every way a log line, the error's
 * own fields or Temporal's history could show it, and no trace of the key may be in it.
 */
const STATUSES = [400, 401, 403, 404, 409, 422, 429, 500, 503] as const;
const KINDS: Array<LeakKind | ReplicateLeakKind> = [...STATUSES, 'malformed', 'garbage'];

for (const vendor of VENDORS) {
  describe(`${vendor}: no trace of the key leaves an adapter`, () => {
    let v: VendorUnderTest;
    beforeAll(async () => {
      v = await startVendor(vendor, { timeoutMs: 2000 });
    });
    afterAll(async () => {
      await v?.close();
    });

    const kinds = vendor === 'replicate' ? [...KINDS, 'failed' as const] : KINDS;
    for (const capability of CAPABILITIES[vendor]) {
      it.each(kinds)(`${capability}, answered %s by a key-echoing gateway`, async (kind) => {
        v.leakNext(kind);
        const err = await rejection(v.calls[capability]!());
        expect(err).toBeInstanceOf(ProviderError);
        const all = exposed(err);
        expectNoKey(all, v.key, `${vendor} ${capability} on ${kind}`);
        if (typeof kind === 'number') expect(err.message).toContain(`HTTP ${kind}`);
        else expect(err).toBeInstanceOf(ProviderUnavailableError);
        // The vendor's words are clipped: a message says what happened, not everything the gateway sent.
        expect(err.message.length).toBeLessThan(ECHO_LIMIT * 4);
      });
    }
  });
}
