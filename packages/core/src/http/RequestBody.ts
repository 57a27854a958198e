/**
 * Reading a request body once, within an API's limit, and handing it on
 * through a request whose text/json/arrayBuffer return what was read.
 *
 * The limit applies to the bytes the endpoint will decode: with `gzip`
 * accepted, to the decompressed body (a 1 KiB bomb that inflates to 1 GiB is
 * refused at the limit, not after). The content rules of inputLimits.ts
 * (UTF-8, nesting depth, JSON syntax, no NUL or unpaired surrogate) run when
 * the endpoint decodes the body, so after its authorization: a caller without
 * the right learns nothing about an endpoint's validation rules.
 *
 * A Node request is read from its socket directly, not through the
 * platform's reader (which destroys the socket when the limit is passed): past
 * the limit the rest of the upload is read and dropped, so the client gets its
 * 413 instead of a reset connection.
 */
import { HttpServerRequest, UrlParams } from "@effect/platform"
import { Data, Effect, Stream } from "effect"
import * as http from "node:http"
import * as zlib from "node:zlib"
import { exceedsJsonDepth, findTextProblem, type InputProblem, MAX_JSON_DEPTH } from "./inputLimits.js"

/** The body, or why there is none to decode. */
export type BodyRead =
  | { readonly _tag: "Body"; readonly bytes: Uint8Array }
  | { readonly _tag: "TooLarge" }
  | { readonly _tag: "Unreadable"; readonly message: string }

/** Raised by a read request's `json` when the body breaks a content rule; the pipeline answers 400. */
export class InputRejected extends Data.TaggedError("InputRejected")<{ readonly problem: InputProblem }> {}

/**
 * Past the limit, the rest of an upload is read and dropped (up to this many
 * bytes) before the 413 is sent: closing a connection with unread data makes
 * TCP reset it, and the client would never see the answer.
 */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024

/** Reads a Node request body up to `max` bytes; past it, drains (up to DRAIN_LIMIT_BYTES) and answers TooLarge. */
const readNodeBody = (source: http.IncomingMessage, max: number) =>
  Effect.async<BodyRead>((resume) => {
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
    // A client that goes away mid-upload gets no answer anyway; the error is the client's, not a 500.
    const onError = () => {
      cleanup()
      resume(Effect.succeed({ _tag: "Unreadable", message: "request body could not be read" }))
    }
    source.on("data", onData)
    source.once("end", onEnd)
    source.once("error", onError)
    return Effect.sync(cleanup)
  })

const EMPTY: BodyRead = { _tag: "Body", bytes: new Uint8Array(0) }

/** Any other request (web handlers): the platform's byte stream, counted as it arrives. */
const readStreamBody = (request: HttpServerRequest.HttpServerRequest, max: number): Effect.Effect<BodyRead> =>
  Effect.gen(function* () {
    // A web Request without a body (GET) has no stream to read.
    if (request.source instanceof Request && request.source.body === null) return EMPTY
    const chunks: Array<Uint8Array> = []
    let size = 0
    const tooLarge = yield* Stream.runFoldWhileEffect(
      request.stream,
      false,
      (over) => !over,
      (_, chunk) =>
        Effect.sync(() => {
          size += chunk.length
          if (size > max) return true
          chunks.push(chunk)
          return false
        })
    )
    return tooLarge ? ({ _tag: "TooLarge" } as const) : ({ _tag: "Body", bytes: Buffer.concat(chunks) } as const)
  }).pipe(Effect.catchAll(() => Effect.succeed({ _tag: "Unreadable", message: "request body could not be read" } as const)))

/** Inflates a gzip body, refusing one whose decompressed size passes `max`. */
const gunzip = (bytes: Uint8Array, max: number): BodyRead => {
  try {
    return { _tag: "Body", bytes: zlib.gunzipSync(bytes, { maxOutputLength: max }) }
  } catch (error) {
    return (error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE"
      ? { _tag: "TooLarge" }
      : { _tag: "Unreadable", message: "request body is not valid gzip" }
  }
}

export interface BodyOptions {
  readonly maxBodyBytes: number
  /** Accept `Content-Encoding: gzip` (decompressed here, within `maxBodyBytes`). */
  readonly gzip: boolean
}

export const readBody = (request: HttpServerRequest.HttpServerRequest, options: BodyOptions): Effect.Effect<BodyRead> =>
  Effect.gen(function* () {
    const encoding = (request.headers["content-encoding"] ?? "identity").trim().toLowerCase()
    const compressed = encoding === "gzip" || encoding === "x-gzip"
    if (!compressed && encoding !== "identity" && encoding !== "") {
      return { _tag: "Unreadable", message: `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not accepted` } as const
    }
    if (compressed && !options.gzip) return { _tag: "Unreadable", message: "Content-Encoding gzip is not accepted here" } as const
    // A compressed body is bounded on the wire by the same limit; its inflated size is bounded again below.
    const raw = request.source instanceof http.IncomingMessage
      ? yield* readNodeBody(request.source, options.maxBodyBytes)
      : yield* readStreamBody(request, options.maxBodyBytes)
    return raw._tag === "Body" && compressed ? gunzip(raw.bytes, options.maxBodyBytes) : raw
  })

const utf8 = new TextDecoder("utf-8", { fatal: true })
const lenient = new TextDecoder("utf-8")

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

/** The same request, whose body accessors return `bytes` (already read, already decompressed). */
export const withBody = (request: HttpServerRequest.HttpServerRequest, bytes: Uint8Array): HttpServerRequest.HttpServerRequest => {
  const wrapped = Object.create(request) as Record<string, unknown>
  const text = lenient.decode(bytes)
  // Checked on first use and remembered; a refusal is a defect the platform passes on untouched.
  let checked: InputProblem | { readonly value: unknown } | undefined
  const json = Effect.suspend(() => {
    checked ??= parseGuardedJson(bytes)
    return "value" in checked ? Effect.succeed(checked.value) : Effect.die(new InputRejected({ problem: checked }))
  })
  const headers = { ...request.headers }
  // What the endpoint sees is the decompressed body.
  delete headers["content-encoding"]
  Object.defineProperties(wrapped, {
    // A router that rewrites the URL (a mounted prefix) must keep the body that was read.
    modify: { value: (options: Parameters<HttpServerRequest.HttpServerRequest["modify"]>[0]) => withBody(request.modify(options), bytes) },
    headers: { value: headers },
    text: { value: Effect.succeed(text) },
    json: { value: json },
    arrayBuffer: { value: Effect.succeed(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) },
    urlParamsBody: { value: Effect.sync(() => UrlParams.fromInput(new URLSearchParams(text))) },
    stream: { value: Stream.succeed(bytes) }
  })
  return wrapped as unknown as HttpServerRequest.HttpServerRequest
}
