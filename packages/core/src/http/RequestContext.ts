/**
 * What every request gets, whichever API serves it, installed once as the
 * router's global middleware (it formats no errors: each API's pipeline does):
 *
 * - an id: the client's `X-Request-Id` when it is a short token, otherwise a
 *   new UUID; echoed in the response and annotated on every log line written
 *   while the request runs (`request_id`);
 * - a fresh set of ResponseHints (Retry-After and the like, set by services);
 * - the security headers of responseHeaders.ts;
 * - the request observers (RequestObservers.ts): method, route template,
 *   status and duration of every request, for metrics;
 * - optionally, one access log line per request (method, path without the
 *   query, route, status, duration), annotated with the request id; not even
 *   built when the minimum log level (set before the app is built) hides Info.
 *
 * A failure that escapes every pipeline (a route added outside one) is logged
 * and answered with a bare 500, and a HEAD to an unknown route with a 404.
 */
import { HttpLayerRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Cause, Context, Effect, FiberRef, LogLevel } from "effect"
import * as crypto from "node:crypto"
import { RequestObservers } from "./RequestObservers.js"
import { ResponseHints } from "./ResponseHints.js"
import { withSecurityHeaders } from "./responseHeaders.js"

/** Per-request facts that the pipeline fills in for the observers. */
export interface RequestFacts {
  readonly id: string
  /** The route template (`/api/v1/machines/:id`), set by the API pipeline that served the request. */
  route: string | undefined
}

export class CurrentRequest extends Context.Reference<CurrentRequest>()("@itl-attestation/core/CurrentRequest", {
  defaultValue: (): RequestFacts | undefined => undefined
}) {}

/** A client's id is kept only when it cannot smuggle anything into a log line or header. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

const requestIdOf = (request: HttpServerRequest.HttpServerRequest) => {
  const given = request.headers["x-request-id"]
  return given !== undefined && CLIENT_REQUEST_ID.test(given) ? given : crypto.randomUUID()
}

const lastResort = (cause: Cause.Cause<HttpLayerRouter.unhandled>) => {
  // A client that went away: nothing to answer, nothing to report.
  if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
  const error = Cause.squash(cause)
  if (HttpServerError.isServerError(error) && error._tag === "RouteNotFound") return Effect.succeed(HttpServerResponse.empty({ status: 404 }))
  return Effect.as(Effect.logError("request failed outside any API pipeline", cause), HttpServerResponse.text("internal server error", { status: 500 }))
}

/** Install once per router; `accessLog` writes one Info line per request. */
export const requestContextLayer = (options: { readonly accessLog: boolean }) => HttpLayerRouter.middleware(
    Effect.gen(function* () {
      const observers = yield* RequestObservers
      const minimumLevel = yield* FiberRef.get(FiberRef.currentMinimumLogLevel)
      const accessLog = options.accessLog && LogLevel.greaterThanEqual(LogLevel.Info, minimumLevel)
      return (
        app: Effect.Effect<HttpServerResponse.HttpServerResponse, HttpLayerRouter.unhandled>
      ): Effect.Effect<HttpServerResponse.HttpServerResponse, HttpLayerRouter.unhandled, HttpServerRequest.HttpServerRequest> =>
        Effect.gen(function* () {
          const request = yield* HttpServerRequest.HttpServerRequest
          const facts: RequestFacts = { id: requestIdOf(request), route: undefined }
          const started = performance.now()
          // Both per-request services in one provide (each provide copies the whole service context).
          const response = yield* app.pipe(
            Effect.provide(Context.make(CurrentRequest, facts).pipe(Context.add(ResponseHints, new Map<string, string>()))),
            Effect.catchAllCause(lastResort),
            Effect.annotateLogs("request_id", facts.id)
          )
          const observed = {
            requestId: facts.id,
            method: request.method,
            route: facts.route ?? "unmatched",
            status: response.status,
            durationSeconds: (performance.now() - started) / 1000
          }
          yield* observers.notify(observed)
          if (accessLog) {
            yield* Effect.logInfo("Sent HTTP response").pipe(
              Effect.annotateLogs({
                request_id: facts.id,
                "http.method": observed.method,
                "http.path": request.url.split("?")[0]!,
                "http.route": observed.route,
                "http.status": observed.status,
                duration_ms: Math.round(observed.durationSeconds * 1000)
              })
            )
          }
          return withSecurityHeaders(response, { "x-request-id": facts.id })
        })
  }),
  { global: true }
)
