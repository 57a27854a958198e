/**
 * The pulumi_state tables. A stack holds its current state as the exact text
 * the CLI last saved (delta checkpoints are byte offsets into it); each
 * finished update keeps the state it produced under its version, for
 * `export/{version}`. At most one update per stack is `running`: a partial
 * unique index, so two instances starting updates at once cannot both win.
 */
import { SqlClient } from "@effect/sql"
import type { MigrationSet } from "@itl-attestation/core"
import { Effect } from "effect"

export const migrations: MigrationSet = {
  "0001_create_stacks_and_updates": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all(
      [
        sql`CREATE TABLE extension_pulumi_state_stacks (
          stack_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          org text NOT NULL,
          project text NOT NULL,
          name text NOT NULL,
          tags jsonb NOT NULL DEFAULT '{}'::jsonb,
          version integer NOT NULL DEFAULT 0,
          state text,
          resource_count integer NOT NULL DEFAULT 0,
          last_update_at timestamptz,
          created_by text NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now(),
          UNIQUE (org, project, name)
        )`,
        sql`CREATE TABLE extension_pulumi_state_updates (
          update_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          stack_id uuid NOT NULL REFERENCES extension_pulumi_state_stacks(stack_id) ON DELETE CASCADE,
          kind text NOT NULL CHECK (kind IN ('update', 'preview', 'refresh', 'destroy', 'import')),
          dry_run boolean NOT NULL,
          status text NOT NULL CHECK (status IN ('not started', 'running', 'succeeded', 'failed', 'cancelled')),
          version integer,
          token_hash text,
          lease_expires_at timestamptz,
          checkpoint_sequence integer NOT NULL DEFAULT 0,
          has_checkpoint boolean NOT NULL DEFAULT false,
          message text NOT NULL DEFAULT '',
          environment jsonb NOT NULL DEFAULT '{}'::jsonb,
          config jsonb NOT NULL DEFAULT '{}'::jsonb,
          resource_changes jsonb,
          event_count integer NOT NULL DEFAULT 0,
          created_by text NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now(),
          started_at timestamptz,
          ended_at timestamptz
        )`,
        // One running update per stack, whoever starts it and on whichever instance.
        sql`CREATE UNIQUE INDEX extension_pulumi_state_updates_one_running
          ON extension_pulumi_state_updates (stack_id) WHERE status = 'running'`,
        sql`CREATE INDEX extension_pulumi_state_updates_history
          ON extension_pulumi_state_updates (stack_id, version DESC) WHERE NOT dry_run AND version IS NOT NULL`,
        sql`CREATE TABLE extension_pulumi_state_versions (
          stack_id uuid NOT NULL REFERENCES extension_pulumi_state_stacks(stack_id) ON DELETE CASCADE,
          version integer NOT NULL,
          state text NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (stack_id, version)
        )`,
        sql`CREATE TABLE extension_pulumi_state_events (
          update_id uuid NOT NULL REFERENCES extension_pulumi_state_updates(update_id) ON DELETE CASCADE,
          sequence integer NOT NULL,
          event jsonb NOT NULL,
          PRIMARY KEY (update_id, sequence)
        )`,
        // A stack's data key, wrapped by the core keyring (AAD names the stack): never stored in the clear.
        sql`CREATE TABLE extension_pulumi_state_secret_keys (
          stack_id uuid PRIMARY KEY REFERENCES extension_pulumi_state_stacks(stack_id) ON DELETE CASCADE,
          key_id text NOT NULL,
          nonce bytea NOT NULL,
          wrapped_key bytea NOT NULL,
          tag bytea NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now()
        )`,
        // An operator token limited to one org (and optionally one project) for this API.
        sql`CREATE TABLE extension_pulumi_state_token_limits (
          token_id uuid PRIMARY KEY REFERENCES operator_tokens(id) ON DELETE CASCADE,
          org text NOT NULL,
          project text,
          created_by text NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now()
        )`
      ],
      { discard: true }
    )
  )
}
