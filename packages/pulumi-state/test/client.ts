/**
 * A raw HTTP client for the Pulumi API, sending what the CLI sends (`token`
 * scheme, `Accept: application/vnd.pulumi+9`, JSON or gzip bodies) — or
 * whatever a test wants instead.
 */
import * as zlib from "node:zlib"
import { startServer, type TestServer } from "../../../test-support/server.js"
import { pulumiState } from "@itl-attestation/pulumi-state"

export const PULUMI_TOKEN = "pulumi-test-token-7f3a9c1e5b"

export const startPulumiServer = (env: Record<string, string> = {}) =>
  startServer({ extensions: [pulumiState], env: { ITL_PULUMI_TOKEN: PULUMI_TOKEN, ...env } })

export interface Answer {
  readonly status: number
  readonly body: any
  readonly text: string
  readonly headers: Headers
}

export interface CallOptions {
  readonly auth?: string | null
  readonly gzip?: boolean
  readonly raw?: Uint8Array | string
  readonly headers?: Record<string, string>
}

export const call = async (server: TestServer, method: string, path: string, body?: unknown, options: CallOptions = {}): Promise<Answer> => {
  const auth = options.auth === undefined ? `token ${PULUMI_TOKEN}` : options.auth
  let payload: Uint8Array | string | undefined = options.raw ?? (body === undefined ? undefined : JSON.stringify(body))
  if (payload !== undefined && options.gzip) payload = zlib.gzipSync(payload)
  const response = await fetch(server.url + path, {
    method,
    headers: {
      accept: "application/vnd.pulumi+9",
      "content-type": "application/json",
      ...(auth === null ? {} : { authorization: auth }),
      ...(options.gzip ? { "content-encoding": "gzip" } : {}),
      ...options.headers
    },
    ...(payload === undefined ? {} : { body: payload as BodyInit })
  })
  const text = await response.text()
  let parsed: unknown
  try {
    parsed = text === "" ? undefined : JSON.parse(text)
  } catch {
    parsed = undefined
  }
  return { status: response.status, body: parsed, text, headers: response.headers }
}

export const client = (server: TestServer, defaults: CallOptions = {}) => ({
  get: (path: string, options: CallOptions = {}) => call(server, "GET", path, undefined, { ...defaults, ...options }),
  post: (path: string, body?: unknown, options: CallOptions = {}) => call(server, "POST", path, body, { ...defaults, ...options }),
  patch: (path: string, body?: unknown, options: CallOptions = {}) => call(server, "PATCH", path, body, { ...defaults, ...options }),
  del: (path: string, options: CallOptions = {}) => call(server, "DELETE", path, undefined, { ...defaults, ...options })
})

/** An operator token made through the core API with the admin token. */
export const operatorToken = async (server: TestServer, name: string, role: string, scopes?: ReadonlyArray<string>) => {
  const response = await fetch(`${server.url}/api/v1/operators/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ name, role, ...(scopes === undefined ? {} : { scopes }) })
  })
  const body = (await response.json()) as { id: string; token: string }
  if (response.status !== 201) throw new Error(`token create: ${response.status} ${JSON.stringify(body)}`)
  return body
}
