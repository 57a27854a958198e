/**
 * The exit codes scripts can rely on (docs/cli.md lists them from here).
 * Each failure maps to one: a usage mistake, a refusal by the server, or a
 * server that cannot be reached.
 */
export const ExitCode = {
  /** Done. */
  ok: 0,
  /** Any other failure: the server refused the input, a local file or the TPM failed, a check failed. */
  error: 1,
  /** The command line is wrong: unknown command or option, missing or invalid value. */
  usage: 2,
  /** The server has no such resource (HTTP 404). */
  notFound: 3,
  /** Not authenticated or not allowed (HTTP 401/403): a missing, revoked or too narrow token. */
  denied: 4,
  /** The resource is not in a state that allows this (HTTP 409), e.g. approving a revoked machine. */
  conflict: 5,
  /** The server cannot be reached, timed out, or is not ready (HTTP 502/503/504, 429 rate limit). */
  unavailable: 6,
  /** Stopped by Ctrl-C or SIGTERM. */
  interrupted: 130
} as const

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

export const EXIT_CODE_MEANINGS: ReadonlyArray<readonly [number, string]> = [
  [ExitCode.ok, "success"],
  [ExitCode.error, "failure: the server refused the input, a local file or the TPM failed, or a check failed (audit verify)"],
  [ExitCode.usage, "usage: unknown command or option, missing or invalid value"],
  [ExitCode.notFound, "not found (HTTP 404)"],
  [ExitCode.denied, "not authenticated or not allowed (HTTP 401/403)"],
  [ExitCode.conflict, "the resource's state does not allow it (HTTP 409)"],
  [ExitCode.unavailable, "the server cannot be reached, timed out, or is unavailable (HTTP 429/502/503/504)"],
  [ExitCode.interrupted, "interrupted (Ctrl-C, SIGTERM)"]
]

/** The exit code for an HTTP error status. */
export const exitCodeForStatus = (status: number): ExitCode => {
  if (status === 404) return ExitCode.notFound
  if (status === 401 || status === 403) return ExitCode.denied
  if (status === 409) return ExitCode.conflict
  if (status === 429 || status === 502 || status === 503 || status === 504) return ExitCode.unavailable
  return ExitCode.error
}
