/**
 * A database the embedding application supplies instead of the one the
 * platform would create from AppConfig: an existing `pg.Pool`, or a layer of
 * its own `PgClient`. (A connection string needs nothing here: it becomes the
 * configured URL, see embedding/database.ts.)
 *
 * Ownership: whoever created a resource ends it. A pool handed over is wrapped
 * with `PgClient.layerFromPool` and an `acquire` without a release, so
 * disposing the platform never calls `pool.end()`; a client layer is built
 * and released by whatever scope builds it (share one with the rest of the
 * application by providing the same layer value in the same build, which
 * Effect memoises).
 */
import { PgClient } from "@effect/sql-pg"
import { SqlClient } from "@effect/sql"
import { Context, Effect, Layer } from "effect"

/** The `pg.Pool` type as @effect/sql-pg sees it (no direct dependency on `pg` or its types). */
export type PgPool = Effect.Effect.Success<PgClient.PgClientFromPoolOptions["acquire"]>

export type HostDatabaseShape =
  | { readonly _tag: "Pool"; readonly pool: PgPool }
  | { readonly _tag: "Client"; readonly layer: Layer.Layer<PgClient.PgClient, unknown> }

/** Set by `AttestationApp` when the host supplies the database; `undefined` means: create it from AppConfig. */
export class HostDatabase extends Context.Reference<HostDatabase>()("@itl-attestation/core/HostDatabase", {
  defaultValue: (): HostDatabaseShape | undefined => undefined
}) {}

/** `postgresql://host:port/db` of a pool, never its password. */
export const describePool = (pool: PgPool): string => {
  const options = pool.options
  if (typeof options.connectionString === "string" && options.connectionString !== "") {
    try {
      const url = new URL(options.connectionString)
      return `postgresql://${url.hostname}:${url.port || "5432"}${url.pathname} (pool of the embedding application)`
    } catch {
      // fall through to the discrete fields
    }
  }
  return `postgresql://${options.host ?? "localhost"}:${options.port ?? 5432}/${options.database ?? ""} (pool of the embedding application)`
}

/** Both tags from one client, as PgClient.layer outputs them. */
const withSqlClient = (client: PgClient.PgClient) => Context.make(PgClient.PgClient, client).pipe(Context.add(SqlClient.SqlClient, client))

/**
 * Every query of the platform names its columns in snake_case and reads them
 * back as such. A client configured to transform names (camelCase results)
 * would break it in odd places later; refuse it at the start instead.
 */
const checkNames = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql.unsafe<Record<string, unknown>>("SELECT 1 AS itl_name_probe")
  const keys = Object.keys(rows[0] ?? {})
  if (keys.length !== 1 || keys[0] !== "itl_name_probe") {
    return yield* Effect.fail(
      new Error(
        "the SqlClient given to AttestationApp transforms column names (e.g. transformResultNames); the platform needs them unchanged"
      )
    )
  }
})

export const hostClientLayer = (
  host: HostDatabaseShape
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, unknown> => {
  const client =
    host._tag === "Pool"
      ? PgClient.layerFromPool({ acquire: Effect.succeed(host.pool), transformJson: false })
      : Layer.effectContext(Effect.map(PgClient.PgClient, withSqlClient)).pipe(Layer.provide(host.layer))
  return Layer.effectDiscard(checkNames).pipe(Layer.provideMerge(client))
}
