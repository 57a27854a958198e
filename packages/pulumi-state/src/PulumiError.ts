/**
 * The Pulumi API's failures and their wire form. The CLI reads the status
 * from the body's `code` (it ignores the HTTP status when the body is JSON),
 * so every error body is `{code, message}` with `code` equal to the status.
 */
import { HttpServerResponse } from "@effect/platform"
import { Data, Effect } from "effect"

export class PulumiError extends Data.TaggedError("PulumiError")<{ readonly status: number; readonly message: string }> {}

export const fail = (status: number, message: string) => Effect.fail(new PulumiError({ status, message }))

/** 400 naming the field at fault. */
export const badField = (field: string, message: string) => fail(400, `${field}: ${message}`)

export const unauthorized = (message: string) => fail(401, message)
export const forbidden = (message: string) => fail(403, message)
export const notFound = (message: string) => fail(404, message)
export const conflict = (message: string) => fail(409, message)

export const errorResponse = (status: number, message: string) =>
  HttpServerResponse.unsafeJson({ code: status, message }, { status })

export const json = (body: unknown, status = 200) => HttpServerResponse.unsafeJson(body, { status })

/** Every handler's failures become their `{code, message}` response. */
export const answer = <R>(effect: Effect.Effect<HttpServerResponse.HttpServerResponse, PulumiError, R>) =>
  Effect.catchTag(effect, "PulumiError", (error) => Effect.succeed(errorResponse(error.status, error.message)))
