/**
 * Runs one migration set (the core's, or one extension's) with `@effect/sql`'s
 * Migrator, each set tracked in its own table `migrations_<name>`.
 *
 * Two instances starting at once must not both migrate: the whole run happens
 * in one transaction that first takes a Postgres advisory lock, so the second
 * instance waits, then finds nothing left to do. The tracking table is created
 * under that lock too, because the Migrator's own "create if missing" check is
 * not safe against a concurrent creator.
 */
import { Migrator } from "@effect/sql"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { traced } from "../observability/traced.js"

export type MigrationSet = Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>>

/** Arbitrary constant shared by every instance of the platform. */
const MIGRATION_LOCK_KEY = 7_316_001

const runMigrator = Migrator.make({})

export const migrationTable = (owner: string) => `migrations_${owner}`

export const runMigrations = (owner: string, migrations: MigrationSet) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const table = migrationTable(owner)
    return yield* sql.withTransaction(
      Effect.gen(function* () {
        yield* sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`
        yield* sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
          migration_id integer PRIMARY KEY,
          created_at timestamptz NOT NULL DEFAULT now(),
          name text NOT NULL
        )`
        return yield* runMigrator({ loader: Migrator.fromRecord(migrations), table })
      })
    )
  }).pipe(traced("Migrations.run", { attributes: { owner } }))
