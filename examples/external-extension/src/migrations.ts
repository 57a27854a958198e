/**
 * The extension's tables, prefixed `extension_example_…`. Migrations run in
 * key order, once each, tracked in `migrations_example_inventory`; a released
 * migration is never edited — add the next one instead.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export const migrations = {
  "0001_create_tags": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`CREATE TABLE extension_example_inventory_tags (
      machine_id uuid PRIMARY KEY REFERENCES machines(id) ON DELETE CASCADE,
      tag text NOT NULL,
      updated_by text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`),
  "0002_create_approvals": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`CREATE TABLE extension_example_inventory_approvals (
      seq bigint PRIMARY KEY,
      machine_id uuid
    )`)
}
