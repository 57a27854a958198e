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

/**
 * Outbox order without a lock (issue 10): each event row records the id of
 * the transaction that wrote it. Consumers read only below the horizon
 * `pg_snapshot_xmin(pg_current_snapshot())` in (txid, seq) order, so a
 * transaction still open never has its rows skipped. Existing rows all take
 * this migration's id (ADD COLUMN evaluates the default once), which keeps
 * them in seq order and before every later transaction; so an existing
 * cursor at seq N becomes the position (this txid, N): the same events are
 * behind it as before.
 */
const eventsTxid = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.all([
    sql`ALTER TABLE events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id()`,
    sql`CREATE INDEX events_txid_seq_idx ON events (txid, seq)`,
    sql`ALTER TABLE event_consumers ADD COLUMN cursor_txid xid8`,
    sql`UPDATE event_consumers SET cursor_txid = pg_current_xact_id()`,
    sql`ALTER TABLE event_consumers ALTER COLUMN cursor_txid SET NOT NULL`
  ], { discard: true })
)

/**
 * Audit chain without a lock (issue 10): rows are inserted unsealed (no chain
 * position, no hashes) by concurrent writers, with `id` from a sequence
 * (allocation order) and the writing transaction's id; the leased sealer
 * (audit/AuditSealer.ts) later gives them consecutive `chain_seq` values and
 * their hashes. Existing rows are sealed as they are: chain_seq = id, which
 * is the "id" their HMAC was computed over, so an existing chain verifies
 * unchanged. The append-only trigger now allows exactly one update: sealing
 * an unsealed row without changing its content.
 */
const auditSealing = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.all([
    sql`ALTER TABLE audit_log
      ADD COLUMN chain_seq bigint UNIQUE,
      ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
      ALTER COLUMN prev_hash DROP NOT NULL,
      ALTER COLUMN hash DROP NOT NULL`,
    sql`ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update`,
    sql`UPDATE audit_log SET chain_seq = id`,
    sql`ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update`,
    sql`ALTER TABLE audit_log ADD CONSTRAINT audit_log_sealed_whole
      CHECK ((chain_seq IS NULL AND prev_hash IS NULL AND hash IS NULL)
          OR (chain_seq IS NOT NULL AND prev_hash IS NOT NULL AND hash IS NOT NULL))`,
    sql`CREATE SEQUENCE audit_log_id_seq OWNED BY audit_log.id`,
    sql`SELECT setval('audit_log_id_seq', COALESCE((SELECT max(id) FROM audit_log), 0) + 1, false)`,
    sql`ALTER TABLE audit_log ALTER COLUMN id SET DEFAULT nextval('audit_log_id_seq')`,
    sql`CREATE INDEX audit_log_unsealed_idx ON audit_log (txid, id) WHERE chain_seq IS NULL`,
    sql`CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND OLD.chain_seq IS NULL AND NEW.chain_seq IS NOT NULL
           AND NEW.id = OLD.id AND NEW.txid = OLD.txid AND NEW.at = OLD.at AND NEW.actor = OLD.actor
           AND NEW.actor_kind = OLD.actor_kind AND NEW.action = OLD.action AND NEW.target_type = OLD.target_type
           AND NEW.target_id IS NOT DISTINCT FROM OLD.target_id AND NEW.details = OLD.details THEN
          RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only';
      END $$`,
    // One sealer at a time across instances: whoever holds this lease.
    sql`CREATE TABLE audit_sealer (
      singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
      lease_owner text,
      lease_until timestamptz
    )`,
    sql`INSERT INTO audit_sealer (singleton) VALUES (true)`
  ], { discard: true })
)

/**
 * Rules that the journal lock used to enforce by serialising writers, now
 * held by the database: one machine per hostname (case-insensitive), as
 * registration has always answered (409 HostnameTaken). The plain index of
 * 0007 is replaced by a unique one.
 */
const uniqueHostname = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.all([
    sql`CREATE UNIQUE INDEX machines_hostname_lower_key ON machines (lower(hostname))`,
    sql`DROP INDEX machines_hostname_lower_idx`
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
  "0010_event_dead_letters": createEventDeadLetters,
  "0011_events_txid": eventsTxid,
  "0012_audit_sealing": auditSealing,
  "0013_machines_hostname_unique": uniqueHostname
}
