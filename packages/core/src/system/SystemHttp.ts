import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { CoreApi } from "../CoreApi.js"
import { groupUsing } from "../http/narrowContext.js"
import { DatabaseInfo } from "../db/Database.js"
import { ExtensionRegistry } from "../extensions/ExtensionRegistry.js"
import { ServiceUnavailable } from "../http/ApiError.js"
import { retryAfter } from "../http/ResponseHints.js"
import { ExtensionList, Readiness } from "./SystemApi.js"

/** Load balancers and clients may retry a not-ready instance after this long (`Retry-After`). */
const READY_RETRY_SECONDS = 5
const notReady = (message: string) =>
  Effect.zipRight(retryAfter(READY_RETRY_SECONDS), Effect.fail(new ServiceUnavailable({ message, details: { retry_after_seconds: READY_RETRY_SECONDS } })))

export const SystemHttp = groupUsing(SqlClient.SqlClient, DatabaseInfo, ExtensionRegistry)(CoreApi, "system", (handlers) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const database = yield* DatabaseInfo
    const registry = yield* ExtensionRegistry
    return handlers
      .handle("healthz", () => Effect.succeed({ status: "ok" as const }))
      // Routes exist only once migrations have run (the app builds them after),
      // so readiness reduces to: can we still reach the database?
      .handle("readyz", () =>
        sql`SELECT 1`.pipe(
          Effect.as(new Readiness({ status: "ready", database: database.kind, migrations: "done" })),
          Effect.timeout("2 seconds"),
          Effect.catchTags({
            TimeoutException: () => notReady("database did not answer within 2 s"),
            SqlError: () => notReady("database unreachable")
          })
        )
      )
      .handle("extensions", () =>
        Effect.map(registry.loaded, (loaded) =>
          new ExtensionList({
            extensions: loaded.map(({ name, version, description }) => ({ name, version, description })),
            total: loaded.length
          })
        )
      )
  })
)
