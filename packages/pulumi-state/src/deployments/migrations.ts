/**
 * The deployments' tables (after the protocol's own migrations). A deployment
 * row is the durable queue entry and the record: `queued → running →
 * succeeded | failed | cancelled`. A runner claims a queued row with FOR
 * UPDATE SKIP LOCKED and holds it with a lease it renews; a row whose lease
 * ran out (its instance died) is ended `failed` by any instance. Its
 * environment is sealed by the core keyring; its output is kept as ordered
 * chunks (already redacted). A deployment token is stored as its SHA-256
 * digest only, and dies with the run.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export const deploymentMigrations = {
  "0100_create_deployments": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all(
      [
        sql`CREATE TABLE extension_pulumi_state_deployments (
          deployment_id uuid PRIMARY KEY,
          stack_id uuid NOT NULL REFERENCES extension_pulumi_state_stacks(stack_id) ON DELETE CASCADE,
          org text NOT NULL,
          project text NOT NULL,
          stack text NOT NULL,
          operation text NOT NULL CHECK (operation IN ('update', 'preview', 'refresh', 'destroy')),
          repo_url text NOT NULL,
          branch text NOT NULL,
          repo_dir text NOT NULL,
          environment_names text NOT NULL DEFAULT '',
          environment bytea,
          environment_nonce bytea,
          environment_tag bytea,
          environment_key_id text,
          status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
          reason text,
          cancel_requested boolean NOT NULL DEFAULT false,
          claimed_by text,
          lease_until timestamptz,
          pid integer,
          log_bytes integer NOT NULL DEFAULT 0,
          created_by text NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now(),
          started_at timestamptz,
          ended_at timestamptz
        )`,
        sql`CREATE INDEX extension_pulumi_state_deployments_queue
          ON extension_pulumi_state_deployments (created_at) WHERE status = 'queued'`,
        sql`CREATE INDEX extension_pulumi_state_deployments_stack
          ON extension_pulumi_state_deployments (stack_id, created_at DESC)`,
        // One running deployment per stack, whichever instance claims it (the CLI would refuse a second update anyway).
        sql`CREATE UNIQUE INDEX extension_pulumi_state_deployments_one_running
          ON extension_pulumi_state_deployments (stack_id) WHERE status = 'running'`,
        sql`CREATE TABLE extension_pulumi_state_deployment_logs (
          deployment_id uuid NOT NULL REFERENCES extension_pulumi_state_deployments(deployment_id) ON DELETE CASCADE,
          seq integer NOT NULL,
          text text NOT NULL,
          at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (deployment_id, seq)
        )`,
        sql`CREATE TABLE extension_pulumi_state_deploy_tokens (
          token_hash text PRIMARY KEY,
          deployment_id uuid NOT NULL REFERENCES extension_pulumi_state_deployments(deployment_id) ON DELETE CASCADE,
          expires_at timestamptz NOT NULL
        )`
      ],
      { discard: true }
    )
  )
}
