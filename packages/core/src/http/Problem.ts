/**
 * A failure that no endpoint's typed errors describe — an unreadable or
 * oversized body, a route that does not exist, an outage, a defect — as one
 * value that each API's pipeline renders in its own error format.
 */
import { HttpServerError } from "@effect/platform"
import { Cause, Effect, Option } from "effect"
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from "../db/unavailable.js"
import type { InputProblem } from "./inputLimits.js"

export interface Problem {
  readonly status: number
  /** Machine-readable, snake_case: `bad_request`, `payload_too_large`, `internal_error` … */
  readonly code: string
  /** One line for a person; names the field when a field is at fault. Never internal detail. */
  readonly message: string
  readonly details?: Readonly<Record<string, unknown>>
  /** Sent as `Retry-After`. */
  readonly retryAfterSeconds?: number
}

/** Field paths come from the client (object keys, parameter names): keep what the error echoes short. */
const MAX_FIELD_CHARS = 200

export const badInput = (problem: InputProblem): Problem => {
  const field = problem.field.length <= MAX_FIELD_CHARS ? problem.field : `${problem.field.slice(0, MAX_FIELD_CHARS)}…`
  return field === ""
    ? { status: 400, code: "bad_request", message: problem.message }
    : { status: 400, code: "bad_request", message: `${field}: ${problem.message}`, details: { fields: [field] } }
}

export const tooLarge = (maxBodyBytes: number): Problem => ({
  status: 413,
  code: "payload_too_large",
  message: `request body exceeds ${maxBodyBytes} bytes`
})

const hasTag = (value: unknown, tag: string): value is { readonly _tag: string } =>
  typeof value === "object" && value !== null && (value as { _tag?: unknown })._tag === tag

/**
 * What went wrong, for the client. Causes that are the server's fault are
 * logged here with their detail and answered without it.
 */
export const problemOf = (cause: Cause.Cause<unknown>): Effect.Effect<Problem> =>
  Effect.gen(function* () {
    const failure = Cause.isEmpty(cause) || Cause.isInterruptedOnly(cause) ? Option.none() : Option.some(Cause.squash(cause))
    if (Option.isSome(failure)) {
      const error = failure.value
      // Recognised by tag, not class: a second copy of this module in the process must not change the answer.
      if (hasTag(error, "InputRejected")) return badInput((error as unknown as { problem: InputProblem }).problem)
      if (HttpServerError.isServerError(error) && error._tag === "RouteNotFound") {
        // The path as the client sent it: under a mount prefix the router has already cut the prefix from `url`.
        const path = error.request.originalUrl.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "").split("?")[0]
        return { status: 404, code: "not_found", message: `no route for ${error.request.method} ${path}` }
      }
      if (HttpServerError.isServerError(error) && error._tag === "RequestError") {
        return { status: 400, code: "bad_request", message: "request body could not be read" }
      }
    }
    if (isDatabaseUnavailable(cause)) {
      yield* Effect.logWarning("request failed: the database is unreachable", cause)
      return {
        status: 503,
        code: "service_unavailable",
        message: "the database is unreachable; retry later",
        retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS
      }
    }
    if (Cause.isInterruptedOnly(cause)) return { status: 503, code: "service_unavailable", message: "request interrupted" }
    yield* Effect.logError("request failed", cause)
    return { status: 500, code: "internal_error", message: "internal server error" }
  })
