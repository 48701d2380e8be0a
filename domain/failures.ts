/**
 * Failure types that a workflow, an activity or the CLI checks, named once. An
 * `ApplicationFailure`'s `type` is one of these; tools match on the name, people read the message.
 */
export const Failure = {
  /** The brief failed validation (any door: CLI, reviewer, Temporal UI, `temporal workflow start`). */
  InvalidBrief: 'InvalidBrief',
  /** The catalog input or its feed cannot be run (missing feed, bad key, unreadable rows). */
  InvalidCatalog: 'InvalidCatalog',
  /** The workflow id cannot name a place in the blob store, or names another tool's namespace. */
  InvalidWorkflowId: 'InvalidWorkflowId',
  /** A blob the store will not read: a symlink, FIFO or folder planted in the data folder, or one larger than a read may take. */
  UnsafeBlob: 'UnsafeBlob',
  /** A signal or update payload over the size a handler accepts. */
  PayloadTooLarge: 'PayloadTooLarge',
  PromptScoreTooLow: 'PromptScoreTooLow',
  OverBudget: 'OverBudget',
  /** The prompt moderation check flagged the brief's prompt: refused before any spend; the message names the categories. */
  PromptRefused: 'PromptRefused',
  /** A candidate the judge found unsafe or showing a must-avoid item: never selected (a RejectedCandidate's type). */
  JudgeRejected: 'JudgeRejected',
  ProvidersDown: 'ProvidersDown',
  AllCandidatesRejected: 'AllCandidatesRejected',
  ReviewRefused: 'ReviewRefused',
  ReviewDeadlineExceeded: 'ReviewDeadlineExceeded',
  NotifyFailed: 'NotifyFailed',
  /** An events or delivery webhook call failed (the receiver refused it, or was unreachable). */
  WebhookFailed: 'WebhookFailed',
  // Provider failures (activities/providers/errors.ts).
  ContentPolicy: 'ContentPolicy',
  Authentication: 'Authentication',
  InvalidRequest: 'InvalidRequest',
  RateLimited: 'RateLimited',
  ProviderUnavailable: 'ProviderUnavailable',
  /** A vendor's answer or output file over DARKROOM_MAX_DOWNLOAD_BYTES. */
  ResponseTooLarge: 'ResponseTooLarge',
} as const;

export type FailureType = (typeof Failure)[keyof typeof Failure];
