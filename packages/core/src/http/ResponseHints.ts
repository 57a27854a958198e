/**
 * Response headers that a service decides but an error body cannot carry:
 * `Retry-After` on a 429 or 503. The API pipeline gives each request a fresh
 * set and copies it onto the response, whatever the status; outside a request
 * (a service called as a library) the hints go nowhere.
 */
import { Context, Effect } from "effect"

export class ResponseHints extends Context.Reference<ResponseHints>()("@itl-attestation/core/ResponseHints", {
  defaultValue: (): Map<string, string> | undefined => undefined
}) {}

/** Asks the client to come back in `seconds` (the `Retry-After` header). */
export const retryAfter = (seconds: number) =>
  Effect.flatMap(ResponseHints, (hints) => Effect.sync(() => void hints?.set("retry-after", String(Math.max(0, Math.ceil(seconds))))))
