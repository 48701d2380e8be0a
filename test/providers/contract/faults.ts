import { expect, it } from 'vitest';
import { AuthenticationError, ContentPolicyError, ProviderUnavailableError, RateLimitError } from '../../../activities/providers';
/**
 * The failures every vendor adapter must map the same way. A vendor's fake server knows how
 * to produce each in that vendor's own wire format.
 */
export const FAULTS = ['rateLimit', 'serverError', 'timeout', 'contentPolicy', 'badKey', 'malformed'] as const;
export type Fault = (typeof FAULTS)[number];

/** A request as the fake vendor server received it. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON when the body was JSON, otherwise the raw text. */
  body: unknown;
  /** When it arrived (ms since the epoch), for tests of pacing. */
  at?: number;
}

/** What a contract suite needs from an implementation under test. */
export interface ContractHarness<T> {
  /** The implementation, configured (for vendors: pointed at the fake server by base URL). */
  impl: T;
  /**
   * Makes the next call fail in this way. Absent for implementations with no wire (the offline
   * ones): the fault cases are then not part of their suite, because they cannot happen.
   */
  fault?: (fault: Fault) => void;
  /** The requests the fake server received, oldest first. */
  requests?: () => RecordedRequest[];
  /** Seconds the fake sends in `retry-after` for the rateLimit fault. @default 7 */
  retryAfterSeconds?: number;
  close(): Promise<void>;
}

/** Vendor harness factories are marked, so a suite knows before setup runs to include the fault cases. */
const WITH_FAULTS = new WeakSet<object>();
export function withFaults<T extends () => Promise<ContractHarness<unknown>>>(setup: T): T {
  WITH_FAULTS.add(setup);
  return setup;
}

/**
 * One case per fault: the call rejects with the error class whose `retryable` tells the
 * activity what Temporal should do. Registered only for harnesses made with {@link withFaults}.
 */
export function faultCases<T>(name: string, setup: object, harness: () => ContractHarness<T>, call: (impl: T) => Promise<unknown>): void {
  if (!WITH_FAULTS.has(setup)) return;
  for (const fault of FAULTS) {
    it(`maps ${fault} onto the right error class`, async () => {
      const h = harness();
      if (!h.fault) throw new Error(`${name}: the harness has no fault injector`);
      h.fault(fault);
      const err = await call(h.impl).then(() => undefined, (e: unknown) => e);
      expect(err, `${fault} must reject`).toBeInstanceOf(Error);
      switch (fault) {
        case 'rateLimit':
          expect(err).toBeInstanceOf(RateLimitError);
          expect((err as RateLimitError).retryable).toBe(true);
          expect((err as RateLimitError).retryAfterMs).toBe((h.retryAfterSeconds ?? 7) * 1000);
          break;
        case 'serverError':
        case 'timeout':
        case 'malformed':
          expect(err).toBeInstanceOf(ProviderUnavailableError);
          expect((err as ProviderUnavailableError).retryable).toBe(true);
          break;
        case 'contentPolicy':
          expect(err).toBeInstanceOf(ContentPolicyError);
          expect((err as ContentPolicyError).retryable).toBe(false);
          expect((err as Error).message.length).toBeGreaterThan(5);
          break;
        case 'badKey':
          expect(err).toBeInstanceOf(AuthenticationError);
          expect((err as AuthenticationError).retryable).toBe(false);
          break;
      }
    });
  }
}
