/**
 * One line that says why something failed, for start-up failures and
 * extensions left out. Wrappers whose own message says nothing are seen
 * through: Effect's `UnknownException` ("An unknown error occurred in
 * Effect.tryPromise") shows the error it wraps, a Node `AggregateError`
 * (a connection tried on ::1 and 127.0.0.1) its errors, an error with an empty
 * message its code or cause — so the line is never empty.
 */
import { Cause, ConfigError } from "effect"

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, " ").trim()

/** `ITL_MASTER_KEY: must be 64 hexadecimal characters` rather than Effect's `(Invalid data at …: "…")`. */
const describeConfigError = (error: ConfigError.ConfigError): string => {
  switch (error._op) {
    case "And":
      return `${describeConfigError(error.left)}; ${describeConfigError(error.right)}`
    case "Or":
      return `${describeConfigError(error.left)}, or ${describeConfigError(error.right)}`
    case "MissingData":
      return `${error.path.join(".")}: is not set`
    default:
      return error.path.length === 0 ? error.message : `${error.path.join(".")}: ${error.message}`
  }
}

const isUnknownException = (error: unknown): error is { readonly cause: unknown } =>
  typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "UnknownException" && "cause" in error

const describe = (error: unknown, depth: number): string => {
  if (depth > 5) return String(error)
  if (Cause.isCause(error)) return describe(Cause.squash(error), depth + 1)
  if (ConfigError.isConfigError(error)) return describeConfigError(error)
  if (isUnknownException(error) && error.cause !== undefined) return describe(error.cause, depth + 1)
  if (error instanceof AggregateError && error.errors.length > 0) {
    const parts = [...new Set(error.errors.map((e) => describe(e, depth + 1)))]
    return error.message === "" ? parts.join("; ") : `${error.message}: ${parts.join("; ")}`
  }
  if (error instanceof Error) {
    if (error.message.trim() !== "") return error.message
    const code = (error as { code?: unknown }).code
    if (error.cause !== undefined) return describe(error.cause, depth + 1)
    return typeof code === "string" ? code : error.name
  }
  if (typeof error === "object" && error !== null && "message" in error) {
    const message = String((error as { message: unknown }).message)
    if (message.trim() !== "") return message
    if ("cause" in error) return describe((error as { cause: unknown }).cause, depth + 1)
    const tag = (error as { _tag?: unknown })._tag
    return typeof tag === "string" ? tag : "unknown error"
  }
  const text = String(error)
  return text.trim() === "" ? "unknown error" : text
}

/** The reason, in one non-empty line, without a stack trace. */
export const describeFailure = (error: unknown): string => {
  const text = oneLine(describe(error, 0))
  return text === "" ? "unknown error" : text
}
