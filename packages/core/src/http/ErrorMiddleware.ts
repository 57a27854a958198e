/**
 * The outermost request middleware. It makes every non-2xx answer a JSON body
 * `{error, message, details?}` — including those produced outside our own
 * handlers (unknown route, unreadable body, schema decode failures, defects) —
 * and keeps stack traces and causes out of responses (they go to the log).
 */
import {
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse,
  HttpIncomingMessage
} from "@effect/platform"
import { Cause, Effect, Option } from "effect"
import * as crypto from "node:crypto"
import { errorBody } from "./ApiError.js"
import { badInput, InputRejected, inputGuard } from "./InputGuard.js"
import { withSecurityHeaders } from "./responseHeaders.js"
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from "../db/unavailable.js"

interface DecodeIssue {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

const json = (status: number, body: unknown) => HttpServerResponse.unsafeJson(body, { status })

/**
 * Decode issues quote the value they refused; a large input would make a
 * larger error. Each message is cut to MAX_ISSUE_MESSAGE characters and at most
 * MAX_ISSUES issues are returned, so a 400 body stays well under 8 KiB.
 */
const MAX_ISSUES = 10
const MAX_ISSUE_MESSAGE = 300
const MAX_PATH_SEGMENTS = 40

const truncate = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`)

const capIssue = (issue: DecodeIssue): DecodeIssue => ({
  ...issue,
  path: issue.path.slice(0, MAX_PATH_SEGMENTS).map((segment) => (typeof segment === "string" ? truncate(segment, 64) : segment)),
  message: truncate(String(issue.message), MAX_ISSUE_MESSAGE)
})

/** `hostname: must be a hostname …` — the first issue names the field, the rest go to details. */
const describeIssues = (issues: ReadonlyArray<DecodeIssue>) => {
  const describe = (issue: DecodeIssue) =>
    issue.path.length === 0 ? issue.message : `${issue.path.map(String).join(".")}: ${issue.message}`
  return issues.length === 0 ? "invalid request" : describe(issues[0]!)
}

const rewriteDecodeError = (response: HttpServerResponse.HttpServerResponse) => {
  if (response.status !== 400 || response.body._tag !== "Uint8Array") return response
  let parsed: { _tag?: unknown; issues?: ReadonlyArray<DecodeIssue> }
  try {
    parsed = JSON.parse(new TextDecoder().decode(response.body.body))
  } catch {
    return response
  }
  if (parsed._tag !== "HttpApiDecodeError" || !Array.isArray(parsed.issues)) return response
  const issues = parsed.issues.slice(0, MAX_ISSUES).map(capIssue)
  // `_tag`, `issues` and `message` stay so the derived client still decodes the error.
  return json(400, {
    _tag: "HttpApiDecodeError",
    error: "bad_request",
    message: describeIssues(issues),
    issues,
    details: {
      fields: issues.map((i) => i.path.map(String).join(".")).filter((p) => p !== ""),
      ...(parsed.issues.length > MAX_ISSUES ? { omitted_issues: parsed.issues.length - MAX_ISSUES } : {})
    }
  })
}

/** A 429 or 503 whose details carry `retry_after_seconds` also gets the standard header. */
const withRetryAfter = (response: HttpServerResponse.HttpServerResponse) => {
  if ((response.status !== 429 && response.status !== 503) || response.body._tag !== "Uint8Array") return response
  try {
    const seconds = JSON.parse(new TextDecoder().decode(response.body.body))?.details?.retry_after_seconds
    return typeof seconds === "number" ? HttpServerResponse.setHeader(response, "retry-after", String(seconds)) : response
  } catch {
    return response
  }
}

const isBodyTooLarge = (error: HttpServerError.RequestError) =>
  String((error.cause as Error | undefined)?.message ?? "").includes("maxBytes")

const fromFailure = (request: HttpServerRequest.HttpServerRequest, cause: Cause.Cause<unknown>) =>
  Effect.gen(function* () {
    // The router reports an unreadable body as a failure or, from inside an
    // HttpApi handler, as a defect; either way it is the client's fault.
    const failure = Cause.isEmpty(cause) || Cause.isInterruptedOnly(cause) ? Option.none() : Option.some(Cause.squash(cause))
    if (Option.isSome(failure)) {
      const error = failure.value
      if (error instanceof InputRejected) return badInput(error.problem)
      if (HttpServerError.isServerError(error) && error._tag === "RouteNotFound") {
        return json(404, errorBody("not_found", `no route for ${request.method} ${request.url.split("?")[0]}`))
      }
      if (HttpServerError.isServerError(error) && error._tag === "RequestError") {
        if (isBodyTooLarge(error)) return json(413, errorBody("payload_too_large", "request body is too large"))
        return json(400, errorBody("bad_request", "request body is not valid JSON"))
      }
    }
    // A database outage is temporary: 503 + Retry-After, not a 500 (classified in db/unavailable.ts).
    if (isDatabaseUnavailable(cause)) {
      yield* Effect.logWarning("request failed: the database is unreachable", cause)
      const unavailable = json(503, errorBody("service_unavailable", "the database is unreachable; retry later"))
      return HttpServerResponse.setHeader(unavailable, "retry-after", String(DATABASE_RETRY_AFTER_SECONDS))
    }
    if (Cause.isInterruptedOnly(cause)) return json(503, errorBody("service_unavailable", "request interrupted"))
    yield* Effect.logError("request failed", cause)
    return json(500, errorBody("internal_error", "internal server error"))
  })

export const errorMiddleware =
  (maxBodyBytes: number) =>
  <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const requestId = request.headers["x-request-id"] ?? crypto.randomUUID()
      const declared = Number(request.headers["content-length"] ?? "0")
      const response =
        declared > maxBodyBytes
          ? json(413, errorBody("payload_too_large", `request body exceeds ${maxBodyBytes} bytes`))
          : yield* inputGuard(maxBodyBytes)(app).pipe(
              HttpIncomingMessage.withMaxBodySize(Option.some(maxBodyBytes)),
              Effect.map(rewriteDecodeError),
              Effect.catchAllCause((cause) => fromFailure(request, cause))
            )
      const withAuth =
        response.status === 401 ? HttpServerResponse.setHeader(response, "www-authenticate", 'Bearer realm="attestation"') : response
      return withSecurityHeaders(HttpServerResponse.setHeader(withRetryAfter(withAuth), "x-request-id", requestId))
    })

