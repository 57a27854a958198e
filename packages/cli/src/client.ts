/**
 * The CLI's HTTP clients, derived from the servers' HttpApi definitions (the
 * core's, and each extension's: one definition, no hand-written client), and
 * the translation of whatever they fail with into one line a person can act on.
 */
import {
  type HttpApi,
  HttpApiClient,
  type HttpApiGroup,
  type HttpApiMiddleware,
  HttpClient,
  HttpClientError,
  HttpClientRequest,
  HttpClientResponse,
  UrlParams
} from "@effect/platform"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { CoreApi } from "@itl-attestation/core/api"
import { Cause, Duration, Effect, Option, ParseResult, Ref } from "effect"
import type { Simplify } from "effect/Types"
import { STATUS_CODES } from "node:http"
import { CliFailure, messageOf, oneLine } from "./errors.js"
import { ExitCode, exitCodeForStatus } from "./exitCodes.js"
import type { Globals } from "./globals.js"

const TIMEOUT = Duration.seconds(30)

export interface CallOptions {
  /**
   * Headers added to every request of this call, for what the API definition
   * does not declare as a header (e.g. `X-EK-Fingerprint`, read by the
   * server's machine authentication).
   */
  readonly headers?: Readonly<Record<string, string>>
}

/** What `HttpApiClient.make` needs besides an HttpClient: nothing, for the platform's APIs (their middleware is server-side). */
type ClientRequirements<Groups extends HttpApiGroup.HttpApiGroup.Any, ApiR> = HttpApiMiddleware.HttpApiMiddleware.Without<
  ApiR | HttpApiGroup.HttpApiGroup.ClientContext<Groups>
>

/**
 * An error response with its body read into memory, which can then be read
 * again. The derived client reads the body of an error the endpoint declares
 * to decode it (`arrayBuffer`, once, from the socket); when that fails (a 404
 * without the API's `_tag`, from a server lacking the route), reporting it
 * reads the body a second time, which on node:http waits forever.
 */
const bufferErrorBody = (response: HttpClientResponse.HttpClientResponse) =>
  response.status < 400
    ? Effect.succeed(response)
    : Effect.map(response.arrayBuffer, (body) =>
        HttpClientResponse.fromWeb(response.request, new Response(body, { status: response.status, headers: response.headers }))
      )

/** Where and as whom to call: the globals a client needs (`verbose` traces the requests). */
export type Connection = Pick<Globals, "url" | "token"> & { readonly verbose?: boolean }

// x-ek-fingerprint: a machine's whole credential when the server runs ITL_MACHINE_AUTH=ek-fingerprint-header.
const SECRET_HEADERS = new Set(["authorization", "cookie", "proxy-authorization", "x-ek-fingerprint"])

/** `--verbose`: each request and its answer on stderr; credentials are never shown, bodies neither (they may hold secrets). */
const traced = (client: HttpClient.HttpClient) =>
  HttpClient.transform(client, (response, request) =>
    Effect.gen(function* () {
      const query = UrlParams.toString(request.urlParams)
      const headers = Object.entries(request.headers).map(([name, value]) => `> ${name}: ${SECRET_HEADERS.has(name) ? "[redacted]" : value}`)
      process.stderr.write([`> ${request.method} ${request.url}${query === "" ? "" : `?${query}`}`, ...headers, ""].join("\n"))
      const started = performance.now()
      const outcome = yield* Effect.either(response)
      const took = `${Math.round(performance.now() - started)} ms`
      process.stderr.write(
        outcome._tag === "Right"
          ? `< ${outcome.right.status} ${STATUS_CODES[outcome.right.status] ?? ""} in ${took}\n`
          : `< no response after ${took}: ${oneLine(messageOf(outcome.left))}\n`
      )
      return yield* outcome
    })
  )

const makeClient = <Id extends string, Groups extends HttpApiGroup.HttpApiGroup.Any, ApiE, ApiR>(
  api: HttpApi.HttpApi<Id, Groups, ApiE, ApiR>,
  globals: Connection,
  options: CallOptions,
  seen: Ref.Ref<Option.Option<HttpClientResponse.HttpClientResponse>>
) =>
  HttpApiClient.make(api, {
    baseUrl: globals.url,
    transformClient: (client) =>
      client.pipe(
        Option.match(globals.token, {
          onNone: () => (c: HttpClient.HttpClient) => c,
          onSome: (token) => HttpClient.mapRequest(HttpClientRequest.bearerToken(token))
        }),
        options.headers === undefined ? (c: HttpClient.HttpClient) => c : HttpClient.mapRequest(HttpClientRequest.setHeaders(options.headers)),
        HttpClient.transformResponse(Effect.flatMap(bufferErrorBody)),
        // Kept so that a failure the derived client could not decode (an
        // undeclared status, an unexpected body) can still be reported with
        // the server's status and message.
        HttpClient.tap((response) => Ref.set(seen, Option.some(response))),
        globals.verbose === true ? traced : (c: HttpClient.HttpClient) => c
      )
  })

// Spelled out from the API's type parameters rather than inferred from
// makeClient, so declaration emit can name it.
export type ClientOf<Api> = Api extends HttpApi.HttpApi<infer _Id, infer Groups, infer E, infer _R> ? HttpApiClient.Client<Groups, E, never> : never
export type CoreClient = ClientOf<typeof CoreApi>

/**
 * `callApi` for any HttpApi: calls it and turns every failure into a
 * `CliFailure` with one readable line. Over node:http rather than fetch, which
 * refuses "bad ports" (1, 6000, 10080, …) that a self-hosted server may well
 * listen on.
 */
export const apiCaller =
  <Id extends string, Groups extends HttpApiGroup.HttpApiGroup.Any, ApiE, ApiR>(api: HttpApi.HttpApi<Id, Groups, ApiE, ApiR>) =>
  <A, E>(
    globals: Connection,
    // As HttpApiClient.make types it, so that generic code unifies.
    call: (client: Simplify<HttpApiClient.Client<Groups, ApiE, never>>) => Effect.Effect<A, E>,
    options: CallOptions = {}
  ): Effect.Effect<A, CliFailure, ClientRequirements<Groups, ApiR>> =>
    Effect.gen(function* () {
      const seen = yield* Ref.make(Option.none<HttpClientResponse.HttpClientResponse>())
      const client = yield* makeClient(api, globals, options, seen)
      return yield* call(client).pipe(
        Effect.timeout(TIMEOUT),
        Effect.catchAll((error) =>
          Effect.flatMap(Ref.get(seen), (response) =>
            Effect.flatMap(describe(error, globals.url, response), (failure) => Effect.fail(new CliFailure(failure)))
          )
        )
      )
    }).pipe(Effect.provide(NodeHttpClient.layer))

/** Calls the core API (see `apiCaller`). */
export const callApi: <A, E>(
  globals: Connection,
  call: (client: CoreClient) => Effect.Effect<A, E>,
  options?: CallOptions
) => Effect.Effect<A, CliFailure> = apiCaller(CoreApi)

interface Failure {
  readonly message: string
  readonly exitCode: number
}

const WHERE = "check the server is running, or point at it with --url or ITL_URL"

const describe = (
  error: unknown,
  url: string,
  response: Option.Option<HttpClientResponse.HttpClientResponse>
): Effect.Effect<Failure> => {
  if (Cause.isTimeoutException(error)) {
    return Effect.succeed({ message: `no answer from ${url} within ${Duration.format(TIMEOUT)}; ${WHERE}`, exitCode: ExitCode.unavailable })
  }
  if (HttpClientError.isHttpClientError(error) && error._tag === "RequestError") {
    return Effect.succeed({ message: `cannot reach ${url}: ${transportReason(error.cause)}; ${WHERE}`, exitCode: ExitCode.unavailable })
  }
  if (Option.isSome(response) && response.value.status >= 400) {
    const status = response.value.status
    return Effect.map(httpFailure(error, response.value), (message) => ({ message, exitCode: exitCodeForStatus(status) }))
  }
  if (ParseResult.isParseError(error)) {
    // No response yet: the request itself broke the API schema, which the
    // derived client checks before sending (the server would answer 400).
    return Effect.succeed(
      Option.isNone(response)
        ? { message: `invalid request: ${firstIssue(error)}`, exitCode: ExitCode.usage }
        : { message: `unexpected response from ${url} (is the server the same version as this CLI?): ${firstIssue(error)}`, exitCode: ExitCode.error }
    )
  }
  return Effect.succeed({ message: oneLine(messageOf(error)), exitCode: ExitCode.error })
}

/** `<server message> (HTTP <status>)`, taking the message from the typed error or, failing that, the body. */
const httpFailure = (error: unknown, response: HttpClientResponse.HttpClientResponse) =>
  Effect.gen(function* () {
    const typed = isApiError(error) ? Option.some(error.message) : Option.none()
    const message = Option.isSome(typed) ? typed.value : yield* bodyMessage(response)
    const line = `${oneLine(message)} (HTTP ${response.status})`
    return response.status === 401 ? `${line}; pass --token, set ITL_TOKEN, or save one with attestation login` : line
  })

/** The core's error classes all carry `_tag`, `error` (a code) and `message`. */
const isApiError = (error: unknown): error is { readonly _tag: string; readonly message: string } =>
  typeof error === "object" &&
  error !== null &&
  "_tag" in error &&
  "message" in error &&
  typeof error.message === "string" &&
  !ParseResult.isParseError(error) &&
  !HttpClientError.isHttpClientError(error)

/**
 * The `message` of the core's `{error, message}` body, or the status's name
 * for anything else (a proxy's HTML page). The body may have been read
 * already, by the derived client decoding an error: see `bufferErrorBody`.
 */
const bodyMessage = (response: HttpClientResponse.HttpClientResponse) => {
  const fallback = STATUS_CODES[response.status] ?? "request failed"
  return response.arrayBuffer.pipe(
    Effect.flatMap((buffer) => Effect.try(() => JSON.parse(new TextDecoder().decode(buffer)) as unknown)),
    Effect.map((body) =>
      typeof body === "object" && body !== null && "message" in body && typeof body.message === "string" ? body.message : fallback
    ),
    Effect.orElseSucceed(() => fallback)
  )
}

const firstIssue = (error: ParseResult.ParseError) => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (issue === undefined) return oneLine(error.message)
  return issue.path.length === 0 ? oneLine(issue.message) : `${issue.path.map(String).join(".")}: ${oneLine(issue.message)}`
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable"
}

/**
 * The reason is the socket error's `code`, possibly nested (an AggregateError
 * when a name such as localhost resolves to several addresses).
 */
const transportReason = (cause: unknown): string => {
  let current: unknown = cause
  let innermost = messageOf(cause)
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    if ("code" in current && typeof current.code === "string") return REASONS[current.code] ?? `${innermost} (${current.code})`
    if ("message" in current && typeof current.message === "string" && current.message !== "") innermost = current.message
    current =
      "cause" in current && current.cause !== undefined
        ? current.cause
        : "errors" in current && Array.isArray(current.errors)
          ? current.errors[0]
          : undefined
  }
  return oneLine(innermost)
}
