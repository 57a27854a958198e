/**
 * The one database client. `ITL_DATABASE_URL` selects a PostgreSQL server;
 * otherwise PGlite (Postgres compiled to WASM) is opened under the data
 * directory and served on a Unix socket in a 0700 directory, so that the same
 * `@effect/sql-pg` client, SQL and migrations serve both. There is no second
 * SQL dialect.
 */
import { PgClient } from "@effect/sql-pg"
import { SqlClient } from "@effect/sql"
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { Context, Duration, Effect, Layer, Option, Redacted, Schedule } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { AppConfig } from "../config/AppConfig.js"
import { prepareDataDir } from "../config/dataDir.js"
import { describeFailure } from "../extensions/describeFailure.js"
import { prepareSocket, SOCKET_PORT } from "./embeddedSocket.js"
import { describePool, HostDatabase, hostClientLayer } from "./HostDatabase.js"
import { tightenTree } from "./privateFiles.js"
import { isDatabaseUnavailableError } from "./unavailable.js"

export interface DatabaseInfoShape {
  readonly kind: "embedded" | "postgres"
  /** Human-readable location, never containing a password. */
  readonly description: string
}

export class DatabaseInfo extends Context.Tag("@itl-attestation/core/DatabaseInfo")<
  DatabaseInfo,
  DatabaseInfoShape
>() {}

const describeUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    // The user helps with "authentication failed"; the password is never shown.
    const user = parsed.username === "" ? "" : `${decodeURIComponent(parsed.username)}${parsed.password === "" ? "" : ":***"}@`
    return `postgresql://${user}${parsed.hostname}:${parsed.port || "5432"}${parsed.pathname}`
  } catch {
    return "postgresql (unparseable URL)"
  }
}


/** Bounds each connection attempt, and a request's wait for a pooled connection (then 503). */
const CONNECT_ATTEMPT_TIMEOUT = Duration.seconds(5)

/** The innermost cause's message: `connect ECONNREFUSED 127.0.0.1:5432`, never the URL's password. */
const reason = (error: unknown): string => {
  let current = error
  for (let depth = 0; depth < 5; depth++) {
    const next = (current as { cause?: unknown } | null)?.cause
    if (typeof next !== "object" || next === null) break
    current = next
  }
  const message = (current as { message?: unknown } | null)?.message
  return typeof message === "string" && message !== "" ? message : describeFailure(current)
}

/** What the driver's error code means for the operator, where its message leaves that to them. */
const HINTS: Record<string, string> = {
  ECONNREFUSED: "connection refused: is PostgreSQL running and listening on that host and port?",
  ENOTFOUND: "host not found: check the host name in ITL_DATABASE_URL",
  EAI_AGAIN: "host name lookup failed: check DNS and the host name in ITL_DATABASE_URL",
  ETIMEDOUT: "connection timed out: check the host, the port and firewalls",
  EHOSTUNREACH: "host unreachable: check the host and the network"
}

const codeOf = (error: unknown): string | undefined => {
  for (let current = error, depth = 0; typeof current === "object" && current !== null && depth < 6; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string" && code in HINTS) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

const explained = (error: unknown) => {
  const code = codeOf(error)
  return code === undefined ? reason(error) : `${HINTS[code]} (${reason(error)})`
}

/**
 * A server that is down or still starting when we start is waited for: each
 * failed attempt is logged, with backoff from 0.5 s up to 5 s, until
 * ITL_DATABASE_CONNECT_TIMEOUT. Errors that waiting cannot fix (a wrong
 * password, a missing database) stop the start at once.
 */
const postgresLayer = (url: Redacted.Redacted<string>, connectTimeout: Duration.Duration) =>
  Layer.unwrapEffect(
    Effect.sync(() => {
      const description = describeUrl(Redacted.value(url))
      let attempt = 0
      const client = PgClient.layer({ url, maxConnections: 10, transformJson: false, connectTimeout: CONNECT_ATTEMPT_TIMEOUT }).pipe(
        Layer.tapError((error) =>
          Effect.suspend(() => {
            attempt += 1
            return isDatabaseUnavailableError(error)
              ? Effect.logWarning(
                  `database ${description} unreachable (attempt ${attempt}): ${reason(error)}; ` +
                    `retrying for up to ${Duration.format(connectTimeout)} (ITL_DATABASE_CONNECT_TIMEOUT)`
                )
              : Effect.void
          })
        )
      )
      const retry = Schedule.exponential(Duration.millis(500)).pipe(
        Schedule.union(Schedule.spaced(Duration.seconds(5))),
        Schedule.whileInput(isDatabaseUnavailableError),
        Schedule.upTo(connectTimeout)
      )
      return Layer.merge(
        Layer.retry(client, retry).pipe(
          Layer.mapError((error) =>
            isDatabaseUnavailableError(error)
              ? new Error(
                  `ITL_DATABASE_URL: cannot connect to ${description} within ${Duration.format(connectTimeout)} ` +
                    `(ITL_DATABASE_CONNECT_TIMEOUT): ${explained(error)}`
                )
              : new Error(`ITL_DATABASE_URL: ${description}: ${reason(error)}`)
          )
        ),
        Layer.succeed(DatabaseInfo, { kind: "postgres", description })
      )
    })
  )

/** A file-system step whose error (EACCES on …) reaches the start-up line as it is. */
const attempt = <A>(f: () => A) => Effect.try({ try: f, catch: (error) => error })

/**
 * Opens PGlite under `dataDir/pgdata` and serves it on a Unix socket that only
 * this OS user can reach (see embeddedSocket.ts). A data directory that other
 * users can read is tightened to owner-only, with a warning.
 */
const embeddedLayer = (dataDir: string) =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const root = path.resolve(dataDir)
      const pgdata = path.join(root, "pgdata")
      const loosened = yield* attempt(() => {
        prepareDataDir(root)
        return tightenTree(root)
      })
      if (loosened.length > 0) {
        yield* Effect.logWarning(
          `ITL_DATA_DIR ${root} was accessible to other users (${loosened.length} files or directories, e.g. ` +
            `${loosened[0]}); made owner-only. If other users could log in here, treat the keys in it as exposed and rotate them`
        )
      }
      yield* attempt(() => fs.mkdirSync(pgdata, { recursive: true, mode: 0o700 }))
      // Before opening pgdata: a live socket there means another server has it open.
      const socket = yield* Effect.acquireRelease(
        Effect.tryPromise({ try: () => prepareSocket(root), catch: (error) => error }),
        (socket) => Effect.sync(() => socket.cleanup())
      )
      const db = yield* Effect.acquireRelease(
        Effect.promise(() => PGlite.create(pgdata)),
        (db) => Effect.promise(() => db.close()).pipe(Effect.ignore)
      )
      // PGlite's first initialisation writes its files 0666 regardless of the umask.
      yield* attempt(() => tightenTree(root))
      yield* Effect.acquireRelease(
        Effect.tryPromise({ catch: (error) => error, try: async () => {
          // The socket server serialises transactions across connections, which
          // keeps isolation correct; a handful of connections is plenty.
          const server = new PGLiteSocketServer({ db, path: socket.path, maxConnections: 16 })
          await server.start()
          return server
        } }),
        (server) => Effect.promise(() => server.stop()).pipe(Effect.ignore)
      )
      return Layer.merge(
        PgClient.layer({
          // node-postgres: a host that is a directory means the Unix socket `<host>/.s.PGSQL.<port>`.
          host: socket.directory,
          port: SOCKET_PORT,
          username: "postgres",
          database: "postgres",
          // One connection. PGlite is a single Postgres session behind the
          // socket: statements that several connections send at once (outside
          // transactions) interleave there, and the extended protocol's unnamed
          // statements and portals of one connection are clobbered by another's
          // ("portal does not exist"). PGlite runs one query at a time anyway.
          maxConnections: 1,
          transformJson: false
        }),
        Layer.succeed(DatabaseInfo, { kind: "embedded", description: `PGlite at ${pgdata}` })
      )
    })
  )

export const DatabaseLive: Layer.Layer<
  SqlClient.SqlClient | PgClient.PgClient | DatabaseInfo,
  unknown,
  AppConfig
> = Layer.unwrapEffect(
  Effect.gen(function* () {
    const config = yield* AppConfig
    // A database the embedding application supplies wins over the configuration (db/HostDatabase.ts).
    const host = yield* HostDatabase
    if (host !== undefined) {
      const description = host._tag === "Pool" ? describePool(host.pool) : "SqlClient of the embedding application"
      return Layer.merge(hostClientLayer(host), Layer.succeed(DatabaseInfo, { kind: "postgres" as const, description }))
    }
    return Option.match(config.databaseUrl, {
      onNone: () => embeddedLayer(config.dataDir),
      onSome: (url) => postgresLayer(url, config.databaseConnectTimeout)
    })
  })
)
