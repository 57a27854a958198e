/**
 * Runs tpm2-tools. The TCTI comes from the caller's environment
 * (TPM2TOOLS_TCTI), which every tool inherits; nothing here picks a TPM.
 *
 * Without a resource manager (swtpm's socket TCTI, or /dev/tpm0) every tool
 * leaves its transient objects loaded, and the TPM runs out of object memory
 * after a few keys (0x902), so callers flush between tools (`flushed`).
 */
import { Data, Effect } from "effect"
import { execFile } from "node:child_process"
import { CliFailure } from "../errors.js"

const TIMEOUT_MS = 60_000

/** A tool that could not run or exited non-zero; `stderr` is kept whole for callers that inspect it. */
export class Tpm2Error extends Data.TaggedError("Tpm2Error")<{
  readonly tool: string
  readonly exitCode: number | string | null
  readonly stderr: string
}> {}

/** One line: the TPM's response code line (if any) and the tool's last stderr line. */
export const describeTpm2Error = (error: Tpm2Error): string => {
  if (error.exitCode === "ENOENT") return `${error.tool} not found: install tpm2-tools (5.x)`
  const lines = error.stderr.split("\n").map((line) => line.trim()).filter((line) => line !== "")
  // e.g. `ERROR: Esys_ContextLoad(0x1DF) - tpm:parameter(1):integrity check failed`: the line that says why.
  const rc = lines.find((line) => /^ERROR: \w+\(0x[0-9A-Fa-f]+\)/.test(line))
  const last = lines.at(-1)
  const detail = rc !== undefined && rc !== last ? `${rc}; ${last}` : (last ?? "")
  // The tools cannot reach a TPM: say where they looked, and how to point them elsewhere.
  const hint = /tcti/i.test(error.stderr)
    ? "; no TPM reachable: set TPM2TOOLS_TCTI (e.g. device:/dev/tpmrm0, or swtpm:host=127.0.0.1,port=2321)"
    : ""
  return `${error.tool} failed (exit ${String(error.exitCode)})${detail === "" ? "" : `: ${detail}`}${hint}`
}

export interface ToolOutput {
  readonly stdout: string
  readonly stderr: string
}

/** Runs `tool args…` in `cwd` (where its relative file names land), with the process's environment. */
export const tpm2 = (cwd: string, tool: string, args: ReadonlyArray<string>): Effect.Effect<ToolOutput, Tpm2Error> =>
  Effect.async<ToolOutput, Tpm2Error>((resume, signal) => {
    execFile(
      tool,
      [...args],
      { cwd, env: process.env, timeout: TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024, signal, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error === null) return resume(Effect.succeed({ stdout, stderr }))
        const code = (error as NodeJS.ErrnoException & { code?: number | string }).code
        const exitCode = error.killed ? `killed after ${TIMEOUT_MS / 1000} s` : (code ?? null)
        resume(Effect.fail(new Tpm2Error({ tool, exitCode, stderr: stderr || error.message })))
      }
    )
  })

/** Flushes every transient object (`tpm2_flushcontext -t`). */
export const flushTransients = (cwd: string) => tpm2(cwd, "tpm2_flushcontext", ["-t"]).pipe(Effect.asVoid)

/**
 * Runs `self`, then flushes transients whether it succeeded or not. A failed
 * flush after a failure is ignored (the first error is the one to report).
 */
export const flushed = <A, E, R>(cwd: string, self: Effect.Effect<A, E, R>): Effect.Effect<A, E | Tpm2Error, R> =>
  self.pipe(
    Effect.onError(() => Effect.ignore(flushTransients(cwd))),
    Effect.tap(() => flushTransients(cwd))
  )

/** A saved context the TPM no longer accepts (after a TPM reset or restart): the object must be reloaded. */
export const isStaleContext = (error: Tpm2Error) => /Esys_ContextLoad|Cannot make sense of object context/.test(error.stderr)

/** For the command boundary: a tool failure is a one-line CLI failure. */
export const asCliFailure = <A, E, R>(self: Effect.Effect<A, E | Tpm2Error, R>): Effect.Effect<A, E | CliFailure, R> =>
  Effect.catchIf(
    self,
    (error): error is Tpm2Error => error instanceof Tpm2Error,
    (error) => Effect.fail(new CliFailure({ message: describeTpm2Error(error) }))
  )
