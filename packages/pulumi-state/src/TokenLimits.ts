/** Operator tokens limited to one Pulumi org/project: the admin side (PulumiAuth reads the limits). */
import { SqlClient } from "@effect/sql"
import { actorOf, AuditedChanges, authorized, groupUsing, NotFound } from "@itl-attestation/core"
import { Effect } from "effect"
import { PulumiAdmin } from "./scopes.js"
import { TokenLimit, TokenLimitList, TokenLimitsApi } from "./TokenLimitsApi.js"

interface LimitRow {
  readonly token_id: string
  readonly token_name: string
  readonly org: string
  readonly project: string | null
  readonly created_by: string
  readonly created_at: Date
}

const toLimit = (row: LimitRow) => new TokenLimit({ ...row, created_at: row.created_at.toISOString() })

export const TokenLimitsHttp = groupUsing(SqlClient.SqlClient, AuditedChanges)(TokenLimitsApi, "pulumiTokenLimits", (handlers) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const changes = yield* AuditedChanges
    const select = (tokenId: string | undefined) =>
      sql<LimitRow>`SELECT l.token_id, t.name AS token_name, l.org, l.project, l.created_by, l.created_at
        FROM extension_pulumi_state_token_limits l JOIN operator_tokens t ON t.id = l.token_id
        WHERE ${tokenId === undefined ? sql`true` : sql`l.token_id = ${tokenId}`} ORDER BY t.name`
    return handlers
      .handle("set", ({ path, payload }) =>
        Effect.gen(function* () {
          const operator = yield* authorized(PulumiAdmin)
          const [token] = yield* sql<{ id: string }>`SELECT id FROM operator_tokens WHERE id = ${path.token_id} AND revoked_at IS NULL`
          if (token === undefined) return yield* new NotFound({ message: `no live operator token ${path.token_id}` })
          const project = payload.project ?? null
          yield* changes.run(
            actorOf(operator),
            sql`INSERT INTO extension_pulumi_state_token_limits (token_id, org, project, created_by)
              VALUES (${path.token_id}, ${payload.org}, ${project}, ${operator.name})
              ON CONFLICT (token_id) DO UPDATE SET org = excluded.org, project = excluded.project, created_by = excluded.created_by, created_at = now()`,
            () => ({
              action: "pulumi_state.token_limited",
              targetType: "operator_token",
              targetId: path.token_id,
              details: { org: payload.org, project }
            })
          )
          const [row] = yield* select(path.token_id)
          return toLimit(row!)
        }).pipe(Effect.catchTag("SqlError", (e) => Effect.die(e)))
      )
      .handle("list", () =>
        Effect.gen(function* () {
          yield* authorized(PulumiAdmin)
          return new TokenLimitList({ limits: (yield* select(undefined)).map(toLimit) })
        }).pipe(Effect.orDie)
      )
      .handle("remove", ({ path }) =>
        Effect.gen(function* () {
          const operator = yield* authorized(PulumiAdmin)
          const removed = yield* changes.run(
            actorOf(operator),
            sql<{ token_id: string }>`DELETE FROM extension_pulumi_state_token_limits WHERE token_id = ${path.token_id} RETURNING token_id`,
            (rows) => (rows.length === 0 ? undefined : { action: "pulumi_state.token_unlimited", targetType: "operator_token", targetId: path.token_id })
          )
          if (removed.length === 0) return yield* Effect.fail(new NotFound({ message: `token ${path.token_id} has no Pulumi limit` }))
        }).pipe(Effect.catchTag("SqlError", (e) => Effect.die(e)))
      )
  })
)
