/** An error the CLI prints as is (no stack) before exiting with `exitCode`. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(message: string, readonly exitCode = 2, options?: { cause?: unknown }) {
    super(message, options);
  }
}
