/**
 * Applies the rules of inputLimits.ts to every request, core or extension,
 * authenticated or not:
 *
 * - before routing: the body size (413), and the URL's text (path segments and
 *   query parameters: no NUL, no unpaired surrogates, valid UTF-8) — the same
 *   for every URL, so answering them first reveals nothing about an endpoint;
 * - when an endpoint decodes the body, so after its role middleware: UTF-8,
 *   nesting depth, JSON syntax, and no NUL or unpaired surrogate in any string
 *   or key. A caller without the role gets 401/403 whatever the body holds.
 *
 * The body is read here, once, and handed on through a request whose
 * text/json/arrayBuffer return what was read (json runs the body rules).
 * Reading it ourselves, rather than through the platform's reader (which
 * destroys the socket when the limit is passed), lets a chunked body over the
 * limit get its 413: the rest of the upload is discarded instead.
 */
import { HttpServerRequest, HttpServerResponse, UrlParams } from "@effect/platform"
import { Effect, Stream } from "effect"
import * as http from "node:http"
import { errorBody } from "./ApiError.js"
import {
  exceedsJsonDepth,
  findPathProblem,
  findQueryProblem,
  findTextProblem,
  type InputProblem,
  MAX_JSON_DEPTH
} from "./inputLimits.js"

const json = (status: number, body: unknown) => HttpServerResponse.unsafeJson(body, { status })

/** Field paths come from the client (object keys, parameter names): keep what the error echoes short. */
const MAX_FIELD_CHARS = 200

export const badInput = (problem: InputProblem) => {
  const field = problem.field.length <= MAX_FIELD_CHARS ? problem.field : `${problem.field.slice(0, MAX_FIELD_CHARS)}…`
  return json(
    400,
    errorBody("bad_request", field === "" ? problem.message : `${field}: ${problem.message}`, field === "" ? undefined : { fields: [field] })
  )
}

/** Raised by a guarded request's `json`; ErrorMiddleware answers it with `badInput`. */
export class InputRejected {
  readonly _tag = "InputRejected"
  constructor(readonly problem: InputProblem) {}
}

/** The body rules, run when the body is decoded; the parsed value on success. */
const parseGuardedJson = (bytes: Uint8Array): InputProblem | { readonly value: unknown } => {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return { field: "", message: "request body is not valid UTF-8" }
  }
  if (exceedsJsonDepth(text, MAX_JSON_DEPTH)) {
    return { field: "", message: `request body nests arrays/objects deeper than ${MAX_JSON_DEPTH} levels` }
  }
  let value: unknown
  try {
    value = text.trim() === "" ? null : JSON.parse(text)
  } catch {
    return { field: "", message: "request body is not valid JSON" }
  }
  const problem = findTextProblem(value)
  if (problem !== undefined) return problem.field === "" ? { field: "", message: `request body ${problem.message}` } : problem
  return { value }
}

const tooLarge = (maxBodyBytes: number) => json(413, errorBody("payload_too_large", `request body exceeds ${maxBodyBytes} bytes`))

type BodyRead =
  | { readonly _tag: "Body"; readonly bytes: Uint8Array }
  | { readonly _tag: "TooLarge" }
  | { readonly _tag: "Unreadable" }

/**
 * Past the limit, the rest of an upload is read and dropped (up to this many
 * bytes) before the 413 is sent: closing a connection with unread data makes
 * TCP reset it, and the client would never see the answer.
 */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024

/** Reads a Node request body up to `max` bytes; past it, drains (up to DRAIN_LIMIT_BYTES) and answers TooLarge. */
const readNodeBody = (source: http.IncomingMessage, max: number) =>
  Effect.async<BodyRead, Error>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const cleanup = () => {
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size <= max) return void chunks.push(chunk)
      chunks.length = 0
      if (size > DRAIN_LIMIT_BYTES) {
        cleanup()
        source.resume()
        resume(Effect.succeed({ _tag: "TooLarge" }))
      }
    }
    const onEnd = () => {
      cleanup()
      resume(Effect.succeed(size > max ? { _tag: "TooLarge" } : { _tag: "Body", bytes: Buffer.concat(chunks) }))
    }
    const onError = (error: Error) => {
      cleanup()
      resume(Effect.fail(error))
    }
    source.on("data", onData)
    source.once("end", onEnd)
    source.once("error", onError)
    return Effect.sync(cleanup)
  })

const readBody = (request: HttpServerRequest.HttpServerRequest, max: number): Effect.Effect<BodyRead, unknown> =>
  request.source instanceof http.IncomingMessage
    ? // A client that goes away mid-upload gets no answer anyway; the error is the client's, not a 500.
      Effect.catchAll(readNodeBody(request.source, max), () => Effect.succeed({ _tag: "Unreadable" } as const))
    : // Web handlers (embedding): the platform's reader enforces the limit; its failure becomes the 413 in ErrorMiddleware.
      Effect.map(request.arrayBuffer, (buffer) => ({ _tag: "Body", bytes: new Uint8Array(buffer) }) as const)

/** The same request, whose body accessors return what has already been read. */
const withBody = (
  request: HttpServerRequest.HttpServerRequest,
  bytes: Uint8Array,
  text: string
): HttpServerRequest.HttpServerRequest => {
  const wrapped = Object.create(request) as Record<string, unknown>
  const textEffect = Effect.succeed(text)
  // Checked on first use and remembered; a refusal is a defect the platform passes on untouched.
  let checked: InputProblem | { readonly value: unknown } | undefined
  const json = Effect.suspend(() => {
    checked ??= parseGuardedJson(bytes)
    return "value" in checked ? Effect.succeed(checked.value) : Effect.die(new InputRejected(checked))
  })
  Object.defineProperties(wrapped, {
    // A router that rewrites the URL (a mounted prefix) must keep the body that was read.
    modify: { value: (options: Parameters<HttpServerRequest.HttpServerRequest["modify"]>[0]) => withBody(request.modify(options), bytes, text) },
    text: { value: textEffect },
    json: { value: json },
    arrayBuffer: { value: Effect.succeed(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) },
    urlParamsBody: { value: Effect.sync(() => UrlParams.fromInput(new URLSearchParams(text))) },
    stream: { value: Stream.succeed(bytes) }
  })
  return wrapped as unknown as HttpServerRequest.HttpServerRequest
}

const utf8 = new TextDecoder("utf-8", { fatal: true })
const lenient = new TextDecoder("utf-8")

export const inputGuard =
  (maxBodyBytes: number) =>
  <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const queryAt = request.url.indexOf("?")
      const pathname = queryAt === -1 ? request.url : request.url.slice(0, queryAt)
      const urlProblem = findPathProblem(pathname) ?? (queryAt === -1 ? undefined : findQueryProblem(request.url.slice(queryAt + 1)))
      if (urlProblem !== undefined) return badInput(urlProblem)

      // Every body is read, whatever the method: one left unread (a GET with a body) would make the
      // connection reset when it closes, before the client has read the answer.
      if ((request.headers["content-type"] ?? "").toLowerCase().includes("multipart/")) return yield* app

      const body = yield* readBody(request, maxBodyBytes)
      if (body._tag === "TooLarge") return tooLarge(maxBodyBytes)
      if (body._tag === "Unreadable") return badInput({ field: "", message: "request body could not be read" })
      // `text` is what the platform would give; `json` (what JSON endpoints decode) applies the body rules.
      return yield* Effect.provideService(app, HttpServerRequest.HttpServerRequest, withBody(request, body.bytes, lenient.decode(body.bytes)))
    })
