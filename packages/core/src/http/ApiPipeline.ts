/**
 * The request pipeline of one HTTP API. Each API the platform serves — the
 * core's, each extension's — chooses its own body limit, request decoding
 * (gzip or not, unknown fields refused or not), error format and
 * authentication challenge, and the choice applies to its routes only: it is
 * installed as route middleware on them, never globally, so the core's
 * routes, other extensions' and an embedding host's own are not touched.
 *
 * For every request on its routes the pipeline, in this order:
 * 1. checks the URL's text (path and query: no NUL, no unpaired surrogate,
 *    valid UTF-8) and the declared body size — the same for every URL, so
 *    answering them before authorization reveals nothing;
 * 2. reads the body within the limit (decompressing gzip when accepted) and
 *    hands it on; its content rules run when the endpoint decodes it, after
 *    the endpoint's policy;
 * 3. runs the route; typed errors are encoded by the API's own error schemas
 *    (decode errors by `decodeErrors`), everything else becomes a `Problem`
 *    rendered by `renderProblem`;
 * 4. adds `Retry-After` (from ResponseHints or the problem) and, on 401, the
 *    authentication challenge; records the route template for observers.
 */
import { type HttpApi, HttpLayerRouter, HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { errorBody } from "./ApiError.js"
import { CoreDecodeError, type DecodeErrorSchema, replaceDecodeErrors } from "./DecodeErrors.js"
import { findPathProblem, findQueryProblem } from "./inputLimits.js"
import { badInput, type Problem, problemOf, tooLarge } from "./Problem.js"
import { readBody, withBody } from "./RequestBody.js"
import { CurrentRequest } from "./RequestContext.js"
import { ResponseHints } from "./ResponseHints.js"
import { strictPayloads } from "./strictPayloads.js"

export interface ApiPipelineOptions {
  /** Largest request body accepted (after decompression). Default: `ITL_MAX_BODY_BYTES`. */
  readonly maxBodyBytes?: number
  /** Accept `Content-Encoding: gzip` request bodies. Default false (415-style 400 naming the encoding). */
  readonly gzip?: boolean
  /** Refuse unknown fields in JSON bodies (400 naming them). Default true. */
  readonly rejectUnknownFields?: boolean
  /** Renders failures no typed error describes. Default: the core's `{error, message, details?}`. */
  readonly renderProblem?: (problem: Problem) => HttpServerResponse.HttpServerResponse
  /** Encodes schema mismatches. Default: the core's format (CoreDecodeError). */
  readonly decodeErrors?: DecodeErrorSchema
  /** `WWW-Authenticate` sent with every 401. Default: `Bearer realm="attestation"`; `undefined`: none. */
  readonly challenge?: string | undefined
}

/** The options with every default filled in. */
export interface ApiPipeline {
  readonly maxBodyBytes: number
  readonly gzip: boolean
  readonly rejectUnknownFields: boolean
  readonly renderProblem: (problem: Problem) => HttpServerResponse.HttpServerResponse
  readonly decodeErrors: DecodeErrorSchema
  readonly challenge: string | undefined
}

/** The core's format: `{error, message, details?}`. */
export const renderCoreProblem = (problem: Problem) =>
  HttpServerResponse.unsafeJson(errorBody(problem.code, problem.message, problem.details), { status: problem.status })

export const resolvePipeline = (options: ApiPipelineOptions, defaults: { readonly maxBodyBytes: number }): ApiPipeline => ({
  maxBodyBytes: options.maxBodyBytes ?? defaults.maxBodyBytes,
  gzip: options.gzip ?? false,
  rejectUnknownFields: options.rejectUnknownFields ?? true,
  renderProblem: options.renderProblem ?? renderCoreProblem,
  decodeErrors: options.decodeErrors ?? CoreDecodeError,
  challenge: "challenge" in options ? options.challenge : 'Bearer realm="attestation"'
})

/** The API as it is served and documented under `pipeline`: its decode errors and payload strictness. */
export const apiUnder = <Api extends HttpApi.HttpApi.Any>(api: Api, pipeline: ApiPipeline): Api => {
  const decoded = replaceDecodeErrors(api, pipeline.decodeErrors)
  return pipeline.rejectUnknownFields ? strictPayloads(decoded) : decoded
}

const declaredLength = (request: HttpServerRequest.HttpServerRequest) => {
  const header = request.headers["content-length"]
  return header === undefined ? 0 : Number(header)
}

const declaresNoBody = (request: HttpServerRequest.HttpServerRequest) =>
  (request.method === "GET" || request.method === "HEAD") &&
  request.headers["content-length"] === undefined &&
  request.headers["transfer-encoding"] === undefined

const run = (
  pipeline: ApiPipeline,
  route: Effect.Effect<HttpServerResponse.HttpServerResponse, HttpLayerRouter.unhandled>
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest | HttpRouter.RouteContext> =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const routeContext = yield* HttpRouter.RouteContext
    const current = yield* CurrentRequest
    if (current !== undefined) current.route = routeContext.route.path

    const queryAt = request.url.indexOf("?")
    const pathname = queryAt === -1 ? request.url : request.url.slice(0, queryAt)
    const urlProblem = findPathProblem(pathname) ?? (queryAt === -1 ? undefined : findQueryProblem(request.url.slice(queryAt + 1)))
    if (urlProblem !== undefined) return badInput(urlProblem)
    if (declaredLength(request) > pipeline.maxBodyBytes) return tooLarge(pipeline.maxBodyBytes)

    // Every body is read, whatever the method: one left unread (a GET with a body) would make the
    // connection reset when it closes, before the client has read the answer. Multipart bodies are
    // streamed by the platform with their own limits. A GET or HEAD that declares no body (neither
    // Content-Length nor Transfer-Encoding: HTTP/1.1 framing says it has none) has nothing to read,
    // and no GET endpoint decodes one: it is served as it came, without waiting for the stream's end.
    const multipart = (request.headers["content-type"] ?? "").toLowerCase().includes("multipart/")
    let served = request
    if (!multipart && !declaresNoBody(request)) {
      const body = yield* readBody(request, pipeline)
      if (body._tag === "TooLarge") return tooLarge(pipeline.maxBodyBytes)
      if (body._tag === "Unreadable") return badInput({ field: "", message: body.message })
      served = withBody(request, body.bytes)
    }
    // Once the body is in, the request runs to its end even if the client goes away: interrupting it
    // mid-query makes the database client cancel the statement, and on the embedded database (one
    // session) that cancel stalls every other request for seconds. The answer is simply not sent.
    // (Providing a service copies the request's whole context: only when the request was replaced.)
    const routed = served === request ? route : Effect.provideService(route, HttpServerRequest.HttpServerRequest, served)
    return yield* routed.pipe(Effect.catchAllCause(problemOf), Effect.uninterruptible)
  }).pipe(
    Effect.map((result) => (HttpServerResponse.isServerResponse(result) ? result : renderWithRetry(pipeline, result))),
    Effect.flatMap((response) => finish(pipeline, response))
  )

const renderWithRetry = (pipeline: ApiPipeline, problem: Problem) => {
  const response = pipeline.renderProblem(problem)
  return problem.retryAfterSeconds === undefined
    ? response
    : HttpServerResponse.setHeader(response, "retry-after", String(problem.retryAfterSeconds))
}

const finish = (pipeline: ApiPipeline, response: HttpServerResponse.HttpServerResponse) =>
  Effect.map(ResponseHints, (hints) => {
    let result = response
    if (hints !== undefined) for (const [name, value] of hints) result = HttpServerResponse.setHeader(result, name, value)
    if (result.status === 401 && pipeline.challenge !== undefined) result = HttpServerResponse.setHeader(result, "www-authenticate", pipeline.challenge)
    return result
  })

/**
 * The context keys under which `HttpLayerRouter.middleware(…).layer` hands route middleware to the routes added
 * after it (a prefix followed by a counter, in @effect/platform's HttpLayerRouter). Routes are added in a
 * narrowed context (extensions/loadExtension.ts) that must keep them; the pipeline tests fail if it does not.
 */
export const ROUTE_MIDDLEWARE_KEY = "@effect/platform/HttpLayerRouter/Middleware-"

/** Route middleware for the routes of one API (provide its `.layer` to the layer that adds them). */
export const pipelineMiddleware = (pipeline: ApiPipeline) =>
  HttpLayerRouter.middleware(
    (
      route: Effect.Effect<HttpServerResponse.HttpServerResponse, HttpLayerRouter.unhandled>
    ): Effect.Effect<HttpServerResponse.HttpServerResponse, HttpLayerRouter.unhandled, HttpServerRequest.HttpServerRequest | HttpRouter.RouteContext> =>
      // A fresh set of hints per request: the request context gives one (RequestContext.ts); an API
      // served without it gets its own here.
      Effect.flatMap(ResponseHints, (hints) =>
        hints !== undefined ? run(pipeline, route) : Effect.provideService(run(pipeline, route), ResponseHints, new Map<string, string>())
      )
  )
