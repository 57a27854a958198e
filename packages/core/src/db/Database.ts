/**
 * The one database client. `ITL_DATABASE_URL` selects a PostgreSQL server;
 * otherwise PGlite (Postgres compiled to WASM) is opened under the data
 * directory and served on a loopback socket, so that the same `@effect/sql-pg`
 * client, SQL and migrations serve both. There is no second SQL dialect.
 */
import { PgClient } from "@effect/sql-pg"
import { SqlClient } from "@effect/sql"
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { AppConfig } from "../config/AppConfig.js"

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
    return `postgresql://${parsed.hostname}:${parsed.port || "5432"}${parsed.pathname}`
  } catch {
    return "postgresql (unparseable URL)"
  }
}


const postgresLayer = (url: Redacted.Redacted<string>) =>
  Layer.merge(
    PgClient.layer({ url, maxConnections: 10, transformJson: false }),
    Layer.succeed(DatabaseInfo, { kind: "postgres", description: describeUrl(Redacted.value(url)) })
  )

/** Opens PGlite under `dataDir/pgdata` and serves it on 127.0.0.1 on a free port. */
const embeddedLayer = (dataDir: string) =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const pgdata = path.resolve(dataDir, "pgdata")
      yield* Effect.sync(() => fs.mkdirSync(pgdata, { recursive: true, mode: 0o700 }))
      const db = yield* Effect.acquireRelease(
        Effect.promise(() => PGlite.create(pgdata)),
        (db) => Effect.promise(() => db.close()).pipe(Effect.ignore)
      )
      const server = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          // The socket server serialises transactions across connections, which
          // keeps isolation correct; a handful of connections is plenty.
          const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 16 })
          await server.start()
          return server
        }),
        (server) => Effect.promise(() => server.stop()).pipe(Effect.ignore)
      )
      const [host, port] = server.getServerConn().split(":") as [string, string]
      return Layer.merge(
        PgClient.layer({
          host,
          port: Number(port),
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
  Effect.map(AppConfig, (config) =>
    Option.match(config.databaseUrl, {
      onNone: () => embeddedLayer(config.dataDir),
      onSome: postgresLayer
    })
  )
)
