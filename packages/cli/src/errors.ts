/**
 * Every way the CLI can fail, reduced to one line for stderr. The process
 * never shows a stack trace or an Effect cause: a person reads this line.
 */
import { HelpDoc, ValidationError } from "@effect/cli"
import { Cause, Data, Option } from "effect"

/** A failure already phrased for the user (API errors, transport errors, bad input). */
export class CliFailure extends Data.TaggedError("CliFailure")<{ readonly message: string }> {}

/** Exit non-zero without a message: the command already printed why (e.g. an invalid audit chain). */
export class SilentExit extends Data.TaggedError("SilentExit")<{ readonly code: number }> {}

const ANSI = new RegExp(String.raw`\u001b\[[0-9;]*m`, "g")

/** Collapses whitespace, including newlines, so any message fits on one line. */
export const oneLine = (text: string) => text.replace(ANSI, "").replace(/\s+/g, " ").trim()

const usageLine = (error: ValidationError.ValidationError) => {
  const text = "error" in error ? oneLine(HelpDoc.toAnsiText(error.error)) : ""
  return `attestation: ${text === "" ? "invalid usage" : text} (see --help)`
}

export const messageOf = (error: unknown) =>
  error instanceof Error ? error.message : typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)

export interface Outcome {
  /** The one stderr line, if any. */
  readonly line: Option.Option<string>
  readonly exitCode: number
}

export const describeCause = (cause: Cause.Cause<unknown>): Outcome => {
  if (Cause.isInterruptedOnly(cause)) return { line: Option.none(), exitCode: 130 }
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (error instanceof SilentExit) return { line: Option.none(), exitCode: error.code }
    if (error instanceof CliFailure) return { line: Option.some(`attestation: ${oneLine(error.message)}`), exitCode: 1 }
    if (ValidationError.isValidationError(error)) return { line: Option.some(usageLine(error)), exitCode: 1 }
    return { line: Option.some(`attestation: ${oneLine(messageOf(error))}`), exitCode: 1 }
  }
  // A defect is a bug in the CLI; still one line, the details are not for the user.
  return { line: Option.some(`attestation: unexpected error: ${oneLine(messageOf(Cause.squash(cause)))}`), exitCode: 1 }
}
