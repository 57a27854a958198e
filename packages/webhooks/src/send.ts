/**
 * One POST to a webhook endpoint, with plain node:http(s): the connection goes
 * to the address the SSRF guard checked (a `lookup` that answers only it,
 * while TLS still verifies the URL's host name), redirects are not followed,
 * the whole exchange is bounded by the timeout, and at most 4 KiB of the
 * answer is kept. A fresh connection per attempt (no agent pool): a pooled
 * socket could outlive the check of the address it was opened to.
 */
import { Data, Effect } from "effect"
import * as http from "node:http"
import * as https from "node:https"
import type { LookupFunction } from "node:net"
import type { CheckedAddress } from "./targets.js"

export const MAX_RESPONSE_BYTES = 4096

export interface Answer {
  readonly status: number
  /** At most 4 KiB, cut on a character boundary, without NUL characters (PostgreSQL text holds none). */
  readonly body: string
  readonly retryAfter: string | undefined
  readonly location: string | undefined
}

export class SendFailed extends Data.TaggedError("SendFailed")<{ readonly message: string }> {}

/** Text of at most `max` bytes of UTF-8: a character cut in half is dropped, NULs are removed. */
export const cutText = (bytes: Buffer, max = MAX_RESPONSE_BYTES) => {
  let text = bytes.subarray(0, max).toString("utf8").replace(/\u0000/g, "")
  // A replacement character at the end may be half a character; drop it and recheck the size.
  while (Buffer.byteLength(text, "utf8") > max || (bytes.length > max && text.endsWith("\ufffd"))) text = text.slice(0, -1)
  return text
}

const pinned =
  (checked: CheckedAddress): LookupFunction =>
  (_hostname, options, callback) => {
    // net asks for every address when it races IPv4 and IPv6 (autoSelectFamily).
    if ((options as { all?: boolean }).all === true) {
      ;(callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: checked.address, family: checked.family }])
    } else callback(null, checked.address, checked.family)
  }

export const post = (options: {
  readonly url: URL
  readonly address: CheckedAddress
  readonly headers: Record<string, string>
  readonly body: string
  /** What is left of the attempt's time. */
  readonly timeoutMs: number
  /** The attempt's whole bound, for the message. */
  readonly attemptTimeoutMs: number
}): Effect.Effect<Answer, SendFailed> =>
  Effect.async<Answer, SendFailed>((resume, signal) => {
    const { url } = options
    const client = url.protocol === "https:" ? https : http
    let settled = false
    const finish = (outcome: Effect.Effect<Answer, SendFailed>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resume(outcome)
    }
    const request = client.request(
      url,
      {
        method: "POST",
        agent: false,
        lookup: pinned(options.address),
        headers: { ...options.headers, "content-length": String(Buffer.byteLength(options.body, "utf8")) },
        signal
      },
      (response) => {
        const chunks: Array<Buffer> = []
        let size = 0
        const done = () =>
          finish(
            Effect.succeed({
              status: response.statusCode ?? 0,
              body: cutText(Buffer.concat(chunks)),
              retryAfter: header(response.headers["retry-after"]),
              location: header(response.headers.location)
            })
          )
        response.on("data", (chunk: Buffer) => {
          if (size > MAX_RESPONSE_BYTES) return
          chunks.push(chunk)
          size += chunk.length
          // Enough kept: the rest of a large answer is not read.
          if (size > MAX_RESPONSE_BYTES) {
            done()
            response.destroy()
          }
        })
        response.on("end", done)
        response.on("error", (error) => finish(Effect.fail(new SendFailed({ message: describe(error) }))))
      }
    )
    const timer = setTimeout(() => {
      finish(Effect.fail(new SendFailed({ message: `timed out after ${options.attemptTimeoutMs} ms` })))
      request.destroy()
    }, options.timeoutMs)
    request.on("error", (error) => finish(Effect.fail(new SendFailed({ message: describe(error) }))))
    request.end(options.body)
    return Effect.sync(() => {
      clearTimeout(timer)
      request.destroy()
    })
  })

const header = (value: string | Array<string> | undefined) => (Array.isArray(value) ? value[0] : value)

/** `connect ECONNREFUSED 127.0.0.1:9` and the like: the code and what node says, never a stack. */
const describe = (error: unknown) => {
  const e = error as NodeJS.ErrnoException
  return e.message === undefined ? String(error) : e.code !== undefined && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : e.message
}

/** Seconds from a Retry-After value (delta-seconds or an HTTP date), or undefined. */
export const retryAfterMs = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const at = Date.parse(trimmed)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
