/** Reading what the CLI sent: the query, and a JSON object body (400 naming what is wrong). */
import type { HttpServerRequest } from "@effect/platform"
import { Effect } from "effect"
import { badField, fail } from "./PulumiError.js"
import { isObject } from "./names.js"

export const queryOf = (request: HttpServerRequest.HttpServerRequest) => {
  const at = request.url.indexOf("?")
  return new URLSearchParams(at === -1 ? "" : request.url.slice(at + 1))
}

/** The body as a JSON object (an empty body is `{}`); JSON syntax is checked by the pipeline's reader. */
export const objectBody = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.flatMap(request.json, (value) =>
    value === null ? Effect.succeed({} as Record<string, unknown>) : isObject(value) ? Effect.succeed(value) : fail(400, "request body must be a JSON object")
  ).pipe(Effect.catchTag("RequestError", () => fail(400, "request body could not be read")))

export const optionalString = (body: Record<string, unknown>, field: string) =>
  body[field] === undefined || body[field] === null
    ? Effect.succeed(undefined)
    : typeof body[field] === "string"
      ? Effect.succeed(body[field] as string)
      : badField(field, "must be a string")

export const requiredString = (body: Record<string, unknown>, field: string) =>
  typeof body[field] === "string" ? Effect.succeed(body[field] as string) : badField(field, "is required and must be a string")

export const positiveInt = (value: string | null, field: string, fallback: number, max: number) => {
  if (value === null || value === "") return Effect.succeed(fallback)
  const n = Number(value)
  return Number.isInteger(n) && n >= 1 && n <= max ? Effect.succeed(n) : badField(field, `must be an integer from 1 to ${max}`)
}
