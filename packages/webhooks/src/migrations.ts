/**
 * The webhooks' tables, named as the issue names them. A delivery row is one
 * attempt to send one message: `message_id` (the `webhook-id` header) is
 * shared by the attempts of a message, `state` moves pending → in_flight →
 * succeeded | failed, and a failed attempt with retries left adds the next
 * attempt's row. Workers claim due rows with FOR UPDATE SKIP LOCKED and a
 * lease, so several instances send each attempt once and a crashed one's
 * claim runs out.
 */
import { SqlClient } from "@effect/sql"
import type { MigrationSet } from "@itl-attestation/core"
import { Effect } from "effect"

export const migrations: MigrationSet = {
  "0001_create_webhooks": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all(
      [
        sql`CREATE TABLE extension_webhooks (
          webhook_id uuid PRIMARY KEY,
          url text NOT NULL,
          events text NOT NULL,
          secret bytea NOT NULL,
          secret_nonce bytea NOT NULL,
          secret_tag bytea NOT NULL,
          secret_key_id text NOT NULL,
          previous_secret bytea,
          previous_secret_nonce bytea,
          previous_secret_tag bytea,
          previous_secret_key_id text,
          previous_secret_expires_at timestamptz,
          enabled boolean NOT NULL DEFAULT true,
          disabled_reason text,
          created_by text NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now(),
          updated_at timestamptz NOT NULL DEFAULT now(),
          last_triggered_at timestamptz,
          trigger_count integer NOT NULL DEFAULT 0,
          failure_count integer NOT NULL DEFAULT 0,
          consecutive_failures integer NOT NULL DEFAULT 0
        )`,
        sql`CREATE TABLE extension_webhook_deliveries (
          delivery_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          webhook_id uuid NOT NULL REFERENCES extension_webhooks(webhook_id) ON DELETE CASCADE,
          message_id uuid NOT NULL,
          event_seq bigint,
          event_type text NOT NULL,
          payload text NOT NULL,
          trigger text NOT NULL,
          attempt integer NOT NULL,
          state text NOT NULL,
          next_attempt_at timestamptz NOT NULL DEFAULT now(),
          lease_until timestamptz,
          claimed_by text,
          response_status integer,
          response_body text CHECK (octet_length(response_body) <= 4096),
          error text,
          delivered_at timestamptz,
          duration_ms integer,
          created_at timestamptz NOT NULL DEFAULT now(),
          CHECK (state IN ('pending', 'in_flight', 'succeeded', 'failed', 'cancelled', 'skipped'))
        )`,
        // One message per (webhook, event) from the outbox: a fan-out handed over again after a crash adds nothing.
        sql`CREATE UNIQUE INDEX extension_webhook_deliveries_event
          ON extension_webhook_deliveries (webhook_id, event_seq) WHERE trigger = 'event' AND attempt = 1`,
        // What the worker's claim looks for, per webhook, without reading the (growing) history.
        sql`CREATE INDEX extension_webhook_deliveries_due
          ON extension_webhook_deliveries (webhook_id, next_attempt_at) WHERE state IN ('pending', 'in_flight')`,
        sql`CREATE INDEX extension_webhook_deliveries_history
          ON extension_webhook_deliveries (webhook_id, created_at DESC)`
      ],
      { discard: true }
    )
  )
}
