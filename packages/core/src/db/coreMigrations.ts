/**
 * The core schema. Extensions add their own tables in their own migration
 * sets; a table that holds data for a machine references `machines(id)` with
 * ON DELETE CASCADE so that deleting a machine removes what extensions hold.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import type { MigrationSet } from "./Migrations.js"

const createOperators = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql`CREATE TABLE operator_tokens (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    token_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL,
    last_used_at timestamptz,
    revoked_at timestamptz,
    revoked_by text
  )`
)

const createMachines = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.all([
    sql`CREATE TABLE machines (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      ek_fingerprint text NOT NULL UNIQUE,
      ek_public_pem text NOT NULL,
      ek_certificate text,
      hostname text NOT NULL,
      hardware jsonb NOT NULL DEFAULT '{}'::jsonb,
      status text NOT NULL CHECK (status IN
        ('pending_approval', 'approved', 'attested', 'rejected', 'locked', 'revoked')),
      status_before_lock text,
      status_reason text,
      ek_verified boolean NOT NULL DEFAULT false,
      registered_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      approved_at timestamptz,
      approved_by text,
      last_attested_at timestamptz
    )`,
    sql`CREATE INDEX machines_status_idx ON machines (status)`,
    sql`CREATE INDEX machines_hostname_idx ON machines (hostname)`
  ], { discard: true })
)

const createAuditLog = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.all([
    // ids are assigned by the appender (previous id + 1, under the journal
    // lock) because each id is part of its row's HMAC.
    sql`CREATE TABLE audit_log (
      id bigint PRIMARY KEY,
      at timestamptz NOT NULL,
      actor text NOT NULL,
      actor_kind text NOT NULL,
      action text NOT NULL,
      target_type text NOT NULL,
      target_id text,
      details jsonb NOT NULL,
      prev_hash text NOT NULL,
      hash text NOT NULL
    )`,
    sql`CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id)`,
    // Append-only: the application never updates or deletes audit rows. A
    // database owner can still disable this trigger; the HMAC chain is what
    // makes such a rewrite detectable.
    sql`CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$`,
    sql`CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`
  ], { discard: true })
)

const createEvents = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.all([
    sql`CREATE TABLE events (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      id uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
      event_type text NOT NULL,
      timestamp timestamptz NOT NULL,
      machine_id uuid,
      data jsonb NOT NULL
    )`,
    sql`CREATE TABLE event_consumers (
      name text PRIMARY KEY,
      cursor bigint NOT NULL,
      lease_owner text,
      lease_until timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`
  ], { discard: true })
)

const createKeyring = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql`CREATE TABLE keyring_wrapped_keys (
    purpose text PRIMARY KEY,
    key_id text NOT NULL,
    nonce bytea NOT NULL,
    ciphertext bytea NOT NULL,
    tag bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  )`
)

/** TPM identity: the enrolled keys, the outstanding challenges, nonces, sessions and PCR policy. */
const createTpmIdentity = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.all([
    sql`ALTER TABLE machines
      ADD COLUMN ek_public_tpm bytea,
      ADD COLUMN ak_public bytea,
      ADD COLUMN ak_name bytea,
      ADD COLUMN ek_cert_verified boolean NOT NULL DEFAULT false,
      ADD COLUMN enrolled_at timestamptz,
      ADD COLUMN pcr_policy jsonb,
      ADD COLUMN failed_attestations integer NOT NULL DEFAULT 0`,
    // One outstanding challenge per EK (machines are 1:1 with EKs).
    sql`CREATE TABLE enrollment_challenges (
      machine_id uuid PRIMARY KEY REFERENCES machines(id) ON DELETE CASCADE,
      ak_public bytea NOT NULL,
      ak_name bytea NOT NULL,
      ek_public_tpm bytea NOT NULL,
      ek_cert_verified boolean NOT NULL,
      secret_hash bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL
    )`,
    sql`CREATE TABLE attestation_nonces (
      nonce bytea PRIMARY KEY,
      machine_id uuid NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
      pcr_selection text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL
    )`,
    sql`CREATE INDEX attestation_nonces_machine_idx ON attestation_nonces (machine_id)`,
    sql`CREATE TABLE machine_sessions (
      token_hash text PRIMARY KEY,
      machine_id uuid NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL
    )`,
    sql`CREATE INDEX machine_sessions_machine_idx ON machine_sessions (machine_id)`,
    sql`CREATE TABLE pcr_policy_default (
      singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
      policy jsonb NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      updated_by text NOT NULL
    )`
  ], { discard: true })
)

/**
 * Registration looks hostnames up case-insensitively inside the journal lock;
 * without this index that is a sequential scan growing with the registry
 * (1.4 ms at 4000 machines, measured by the registration bench).
 */
const indexLowerHostname = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql`CREATE INDEX machines_hostname_lower_idx ON machines (lower(hostname))`
)

/**
 * The outstanding credential is kept (it is encrypted to the EK: only that TPM
 * opens it), so that a repeated registration with the same AK is sent the same
 * challenge instead of replacing it: replacing would let anyone who knows the
 * machine's public keys make its activation fail.
 */
const keepOutstandingCredential = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql`ALTER TABLE enrollment_challenges ADD COLUMN credential_blob bytea, ADD COLUMN encrypted_secret bytea`
)

/** The scopes an operator token is limited to; NULL: every scope of its role (authorization/Scope.ts). */
const operatorTokenScopes = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql`ALTER TABLE operator_tokens ADD COLUMN scopes text[] NULL`
)

/**
 * Durable consumers v2: a consumer can be stopped (on every instance, across
 * restarts), and an event its handler keeps failing on is set aside here
 * instead of blocking it. `last_error` is the error's message only.
 */
const createEventDeadLetters = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.all([
    sql`ALTER TABLE event_consumers ADD COLUMN stopped_at timestamptz, ADD COLUMN stopped_by text`,
    sql`CREATE TABLE event_dead_letters (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      consumer text NOT NULL REFERENCES event_consumers(name) ON DELETE CASCADE,
      event_seq bigint NOT NULL,
      event_id uuid NOT NULL,
      event_type text NOT NULL,
      attempts integer NOT NULL,
      last_error text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      replay_requested_at timestamptz,
      replay_requested_by text,
      replayed_at timestamptz,
      replay_failed_at timestamptz,
      replay_error text,
      UNIQUE (consumer, event_seq)
    )`,
    sql`CREATE INDEX event_dead_letters_created_idx ON event_dead_letters (created_at, id)`
  ], { discard: true })
)

export const coreMigrations: MigrationSet = {
  "0001_operator_tokens": createOperators,
  "0002_machines": createMachines,
  "0003_audit_log": createAuditLog,
  "0004_events": createEvents,
  "0005_keyring": createKeyring,
  "0006_tpm_identity": createTpmIdentity,
  "0007_machines_hostname_lower": indexLowerHostname,
  "0008_enrollment_challenge_credential": keepOutstandingCredential,
  "0009_operator_token_scopes": operatorTokenScopes,
  "0010_event_dead_letters": createEventDeadLetters
}
