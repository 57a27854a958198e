/**
 * Starts the real server (host-node's layer, a listening socket on a free
 * port) over a fresh database, configured through a ConfigProvider rather
 * than process.env so test files cannot leak settings into each other.
 */
import type { Extension } from "@itl-attestation/core"
import { ConfigLive, RunningServer, serverLayer, type ServerInfo } from "@itl-attestation/host-node"
import { SqlClient } from "@effect/sql"
import { ConfigProvider, Effect, Layer, Logger, LogLevel, ManagedRuntime, Option } from "effect"
import * as crypto from "node:crypto"
import { type FreshDatabase, freshDatabase } from "./database.js"

export interface TestServer {
  readonly url: string
  readonly adminToken: string
  readonly info: ServerInfo
  readonly database: FreshDatabase
  /** The configuration the server was started with (reuse it to restart on the same database). */
  readonly env: Record<string, string>
  readonly stop: () => Promise<void>
  /** Runs SQL through the server's own database client (works for PGlite and PostgreSQL). */
  /** Runs an Effect against the server's own services (the exported library API). */
  readonly run: <A, E>(effect: Effect.Effect<A, E, any>) => Promise<A>
  readonly sql: <T = Record<string, unknown>>(query: string, params?: ReadonlyArray<unknown>) => Promise<ReadonlyArray<T>>
}

export interface StartOptions {
  readonly extensions?: ReadonlyArray<Extension>
  readonly env?: Record<string, string>
  /** Reuse a database (e.g. to restart); otherwise a fresh one is made and dropped on stop. */
  readonly database?: FreshDatabase
  /** Where host-node looks for installed extension packages. */
  readonly root?: string
  /** Leave ITL_ADMIN_TOKEN unset, so the embedded default generates one. */
  readonly generatedAdmin?: boolean
}

export const startServer = async (options: StartOptions = {}): Promise<TestServer> => {
  const database = options.database ?? (await freshDatabase())
  const adminToken = `test-admin-${crypto.randomBytes(16).toString("hex")}`
  const env: Record<string, string> = {
    ITL_PORT: "0",
    ITL_HOST: "127.0.0.1",
    ...(options.generatedAdmin ? {} : { ITL_ADMIN_TOKEN: adminToken }),
    ...database.env,
    ...options.env
  }
  const layer = serverLayer({ builtins: options.extensions ?? [], root: options.root ?? "/nonexistent" }).pipe(
    Layer.provideMerge(ConfigLive),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))),
    Layer.provide(Logger.minimumLogLevel(process.env.TEST_LOG_LEVEL === "debug" ? LogLevel.Debug : LogLevel.Warning))
  )
  const runtime = ManagedRuntime.make(layer)
  let info: ServerInfo
  try {
    info = await runtime.runPromise(RunningServer)
  } catch (error) {
    await runtime.dispose()
    if (options.database === undefined) await database.cleanup()
    throw error
  }
  return {
    url: info.url,
    adminToken: env.ITL_ADMIN_TOKEN ?? Option.getOrElse(info.report.generatedAdminToken, () => ""),
    info,
    database,
    env,
    run: (effect) => runtime.runPromise(effect as Effect.Effect<any, any, never>),
    sql: <T,>(query: string, params: ReadonlyArray<unknown> = []) =>
      runtime.runPromise(
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<T & object>(query, params as Array<unknown>))
      ) as Promise<ReadonlyArray<T>>,
    stop: async () => {
      await runtime.dispose()
      if (options.database === undefined) await database.cleanup()
    }
  }
}

/** fetch against the test server, JSON in and out. */
export const api = (server: { url: string }, token?: string) => {
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(server.url + path, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers
      },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) })
    })
    const text = await response.text()
    let json: any = undefined
    try {
      json = text === "" ? undefined : JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: response.status, headers: response.headers, body: json, text }
  }
  return {
    get: (path: string, headers?: Record<string, string>) => call("GET", path, undefined, headers),
    post: (path: string, body?: unknown, headers?: Record<string, string>) => call("POST", path, body ?? {}, headers),
    put: (path: string, body?: unknown, headers?: Record<string, string>) => call("PUT", path, body ?? {}, headers),
    delete: (path: string, body?: unknown, headers?: Record<string, string>) => call("DELETE", path, body, headers),
    call
  }
}

/** A fresh EK-like RSA public key in PEM, standing in for a machine in tests that do not need a TPM. */
export const fakeEkPem = () =>
  crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" }).toString()
