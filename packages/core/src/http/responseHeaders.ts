/**
 * Headers every response gets (set by ErrorMiddleware, so 404/413/500 and
 * /docs get them too):
 *
 * - `X-Content-Type-Options: nosniff`: a browser never reinterprets a JSON
 *   error that echoes input as HTML or script.
 * - `Cache-Control: no-store` unless the route set its own: API responses
 *   carry credentials (operator tokens at creation, machine session tokens),
 *   secret values and operator-only data; none of it belongs in a browser or
 *   proxy cache, and a default for all cannot be forgotten on a new endpoint.
 * - For HTML (the /docs page): a Content-Security-Policy that allows exactly
 *   the page's own inline scripts, by their SHA-256 hashes, computed once per
 *   page body; everything else only from the same origin, no plugins, no
 *   framing, no network access to other hosts.
 */
import { HttpServerResponse } from "@effect/platform"
import * as crypto from "node:crypto"

const INLINE_SCRIPT = /<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/gi

/**
 * The /docs page (Scalar) builds its styles at run time, so styles need
 * `'unsafe-inline'` (style injection cannot run script); fonts and images are
 * embedded (`data:`). Scripts: only the hashed inline ones.
 */
export const contentSecurityPolicy = (html: string) => {
  const hashes = new Set<string>()
  for (const match of html.matchAll(INLINE_SCRIPT)) {
    hashes.add(`'sha256-${crypto.createHash("sha256").update(match[1]!, "utf8").digest("base64")}'`)
  }
  return [
    "default-src 'none'",
    // WebAssembly (Scalar parses with it) needs 'wasm-unsafe-eval', which does not allow JavaScript eval.
    `script-src ${[...hashes].join(" ")} 'wasm-unsafe-eval'`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
  ].join("; ")
}

/** Pages are built once and served many times: hash each body once. */
const policies = new WeakMap<Uint8Array, string>()

const policyFor = (response: HttpServerResponse.HttpServerResponse) => {
  if (response.body._tag !== "Uint8Array" || !(response.body.contentType ?? "").startsWith("text/html")) return undefined
  const body = response.body.body
  let policy = policies.get(body)
  if (policy === undefined) {
    policy = contentSecurityPolicy(new TextDecoder().decode(body))
    policies.set(body, policy)
  }
  return policy
}

/** The security headers, and `extra`, set on `response` at once (each header set separately copies the response). */
export const withSecurityHeaders = (response: HttpServerResponse.HttpServerResponse, extra: Record<string, string> = {}) => {
  const headers: Record<string, string> = { ...extra, "x-content-type-options": "nosniff" }
  if (response.headers["cache-control"] === undefined) headers["cache-control"] = "no-store"
  const policy = policyFor(response)
  if (policy !== undefined) headers["content-security-policy"] = policy
  return HttpServerResponse.setHeaders(response, headers)
}
