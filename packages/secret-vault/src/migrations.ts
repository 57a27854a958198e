/** secret_vault's tables, named as the existing schema names them; every machine reference cascades. */
import { SqlClient } from "@effect/sql"
import type { MigrationSet } from "@itl-attestation/core"
import { Effect } from "effect"

export const migrations: MigrationSet = {
  "0001_create_secrets": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all([
      sql`CREATE TABLE extension_secrets (
        secret_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        machine_id uuid NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
        name text NOT NULL,
        encrypted_value bytea NOT NULL,
        nonce bytea NOT NULL,
        tag bytea NOT NULL,
        key_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL,
        last_accessed_at timestamptz,
        access_count integer NOT NULL DEFAULT 0,
        UNIQUE (machine_id, name)
      )`,
      sql`CREATE TABLE extension_shared_secrets (
        shared_secret_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL UNIQUE,
        encrypted_value bytea NOT NULL,
        nonce bytea NOT NULL,
        tag bytea NOT NULL,
        encryption_key_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL,
        last_rotated_at timestamptz,
        description text
      )`,
      sql`CREATE TABLE extension_shared_secret_access (
        shared_secret_id uuid NOT NULL REFERENCES extension_shared_secrets(shared_secret_id) ON DELETE CASCADE,
        machine_id uuid NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
        granted_at timestamptz NOT NULL DEFAULT now(),
        granted_by text NOT NULL,
        last_accessed_at timestamptz,
        access_count integer NOT NULL DEFAULT 0,
        PRIMARY KEY (shared_secret_id, machine_id)
      )`,
      // One canary per shared-secret key ever used: a key that cannot open its
      // canary (or the stored secrets) stops the start.
      sql`CREATE TABLE extension_secret_vault_keys (
        key_fingerprint text PRIMARY KEY,
        key_id text NOT NULL,
        nonce bytea NOT NULL,
        ciphertext bytea NOT NULL,
        tag bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`
    ], { discard: true })
  )
}
