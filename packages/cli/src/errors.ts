/**
 * Every way a command can fail, reduced to one line for stderr and an exit
 * code (exitCodes.ts). The process never shows a stack trace or an Effect
 * cause: a person reads this line.
 */
import { Cause, Data, Option } from "effect"
import { ExitCode } from "./exitCodes.js"
import type { Outcome } from "./framework/spec.js"

/** A failure already phrased for the user (API errors, transport errors, bad input). */
export class CliFailure extends Data.TaggedError("CliFailure")<{ readonly message: string; readonly exitCode?: number }> {}

/** A usage mistake found by the command itself (two options that exclude each other, …): exit code 2. */
export const usageFailure = (message: string) => new CliFailure({ message, exitCode: ExitCode.usage })

/** Exit non-zero without a message: the command already printed why (e.g. an invalid audit chain). */
export class SilentExit extends Data.TaggedError("SilentExit")<{ readonly code: number }> {}

const ANSI = new RegExp(String.raw`\u001b\[[0-9;]*[A-Za-z]`, "g")

/** Control characters left once colours are stripped and whitespace collapsed (an OSC title sequence, a bell…). */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g

/** Collapses whitespace, including newlines, so any message fits on one line; other control characters are shown escaped. */
export const oneLine = (text: string) =>
  text
    .replace(ANSI, "")
    .replace(/\s+/g, " ")
    .replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
    .trim()

export const messageOf = (error: unknown) =>
  error instanceof Error ? error.message : typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)

/** The outcome of a command that failed with `cause`. */
export const outcomeOf = (cause: Cause.Cause<unknown>): Outcome => {
  if (Cause.isInterruptedOnly(cause)) return { exitCode: ExitCode.interrupted }
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (error instanceof SilentExit) return { exitCode: error.code }
    if (error instanceof CliFailure) return { exitCode: error.exitCode ?? ExitCode.error, message: `attestation: ${oneLine(error.message)}` }
    return { exitCode: ExitCode.error, message: `attestation: ${oneLine(messageOf(error))}` }
  }
  // A defect is a bug in the CLI; still one line, the details are not for the user.
  return { exitCode: ExitCode.error, message: `attestation: unexpected error: ${oneLine(messageOf(Cause.squash(cause)))}` }
}
