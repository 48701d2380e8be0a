import { Failure, type FailureType } from '../../domain/failures';

/**
 * Provider failures by condition. Activities turn them into Temporal failures:
 * permanent ones non-retryable, transient ones retryable (with the vendor's delay).
 */
export class ProviderError extends Error {
  override readonly name: string = 'ProviderError';
  constructor(
    message: string,
    readonly provider: string,
    /** Stable failure type recorded in Temporal, e.g. `ContentPolicy`. */
    readonly type: FailureType,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The vendor refused the prompt or the image (safety filters). Not retried. */
export class ContentPolicyError extends ProviderError {
  override readonly name = 'ContentPolicyError';
  constructor(message: string, provider: string, options?: { cause?: unknown }) {
    super(message, provider, Failure.ContentPolicy, false, options);
  }
}

/** Missing, wrong or unauthorised API key. Not retried. */
export class AuthenticationError extends ProviderError {
  override readonly name = 'AuthenticationError';
  constructor(message: string, provider: string, options?: { cause?: unknown }) {
    super(message, provider, Failure.Authentication, false, options);
  }
}

/** The request itself is wrong (size, model, parameters). Not retried. */
export class InvalidRequestError extends ProviderError {
  override readonly name = 'InvalidRequestError';
  constructor(message: string, provider: string, options?: { cause?: unknown }) {
    super(message, provider, Failure.InvalidRequest, false, options);
  }
}

/** Too many requests; retried after `retryAfterMs` when the vendor says. */
export class RateLimitError extends ProviderError {
  override readonly name = 'RateLimitError';
  constructor(message: string, provider: string, readonly retryAfterMs: number | undefined, options?: { cause?: unknown }) {
    super(message, provider, Failure.RateLimited, true, options);
  }
}

/** 5xx, timeouts, malformed responses: retried. */
export class ProviderUnavailableError extends ProviderError {
  override readonly name = 'ProviderUnavailableError';
  constructor(message: string, provider: string, options?: { cause?: unknown }) {
    super(message, provider, Failure.ProviderUnavailable, true, options);
  }
}

/**
 * A vendor's answer (or output file) larger than a worker may read, counted as the bytes arrive
 * (`DARKROOM_MAX_DOWNLOAD_BYTES`). Not retried: the same call would send the same answer.
 */
export class ResponseTooLargeError extends ProviderError {
  override readonly name = 'ResponseTooLargeError';
  constructor(message: string, provider: string, readonly limitBytes: number, options?: { cause?: unknown }) {
    super(message, provider, Failure.ResponseTooLarge, false, options);
  }
}
