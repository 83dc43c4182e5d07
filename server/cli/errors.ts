/** Exit codes are part of the CLI's contract: scripts and CI branch on them. */
export const EXIT = {
  ok: 0,
  /** The server answered and refused (4xx), or a rollout ended reverted under `wait`. */
  refused: 1,
  /** Bad usage, a bad file, or a confirmation declined: nothing was sent. */
  usage: 2,
  /** The server could not be reached, or answered that it is unavailable (502/503/504). */
  unreachable: 3,
  /** `wait` ran out of time before the rollout got there. */
  timeout: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error that ends the command with this exit code; `body` is what `--json` prints. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  readonly body: unknown;

  constructor(exitCode: ExitCode, message: string, body?: unknown) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.body = body;
  }
}

export const usageError = (message: string) => new CliError(EXIT.usage, message, { error: { code: 'usage', message } });
