/**
 * Operator bearer tokens: random, stored as SHA-256 hashes, each with a name
 * and a role, revocable. Also the bootstrap of the first admin token.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option, Redacted } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { sqlDefect } from "../db/sqlDefect.js"
import { AuditLog } from "../audit/AuditLog.js"
import { AppConfig, isEmbedded } from "../config/AppConfig.js"
import { Events } from "../events/Events.js"
import { Forbidden, NotFound, Unauthorized } from "../http/ApiError.js"
import type { Page } from "../http/Pagination.js"
import {
  CreatedOperatorToken,
  CurrentOperator,
  type OperatorIdentity,
  OperatorToken,
  OperatorTokenList,
  type Role,
  roleAtLeast
} from "./Operator.js"
import { generateToken, hashToken } from "./tokenHash.js"

interface TokenRow {
  readonly id: string
  readonly name: string
  readonly role: Role
  readonly created_at: Date
  readonly created_by: string
  readonly last_used_at: Date | null
  readonly revoked_at: Date | null
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString())
const toToken = (row: TokenRow) =>
  new OperatorToken({ ...row, created_at: row.created_at.toISOString(), last_used_at: iso(row.last_used_at), revoked_at: iso(row.revoked_at) })

/** `last_used_at` is written at most this often per token, to keep reads from becoming writes. */
const LAST_USED_PRECISION_MS = 60_000

/** Fails with Forbidden unless the current operator has at least `required`. */
export const requireRole = (required: Role) =>
  Effect.flatMap(CurrentOperator, (operator) =>
    roleAtLeast(operator.role, required)
      ? Effect.succeed(operator)
      : Effect.fail(new Forbidden({ message: `this action needs the ${required} role; ${operator.name} has ${operator.role}` }))
  )

export const actorOf = (operator: OperatorIdentity) => ({ name: operator.name, kind: "operator" as const })

export class OperatorTokens extends Effect.Service<OperatorTokens>()("@itl-attestation/core/OperatorTokens", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const audit = yield* AuditLog
    const events = yield* Events
    const config = yield* AppConfig
    const lastUsedWritten = new Map<string, number>()

    const insert = (name: string, role: Role, tokenHash: string, createdBy: string) =>
      sql<TokenRow>`INSERT INTO operator_tokens (name, role, token_hash, created_by)
        VALUES (${name}, ${role}, ${tokenHash}, ${createdBy})
        ON CONFLICT (token_hash) DO NOTHING RETURNING *`

    /**
     * Makes sure an admin can log in on a new installation. Returns the token
     * when one was generated now, so the host can print it this one time.
     */
    const bootstrap = Effect.gen(function* () {
      if (Option.isSome(config.adminToken)) {
        yield* insert("bootstrap-admin", "admin", hashToken(Redacted.value(config.adminToken.value)), "system")
        return Option.none<string>()
      }
      if (!isEmbedded(config)) {
        const [admins] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM operator_tokens WHERE role = 'admin' AND revoked_at IS NULL`
        if (admins!.n === 0) yield* Effect.logWarning("no admin token exists: set ITL_ADMIN_TOKEN to create one")
        return Option.none<string>()
      }
      const file = path.resolve(config.dataDir, "admin-token")
      if (fs.existsSync(file)) {
        yield* insert("bootstrap-admin", "admin", hashToken(fs.readFileSync(file, "utf8").trim()), "system")
        return Option.none<string>()
      }
      const token = generateToken("itl_admin")
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
      fs.writeFileSync(file, token + "\n", { mode: 0o600, flag: "wx" })
      yield* insert("bootstrap-admin", "admin", hashToken(token), "system")
      return Option.some(token)
    })

    const authenticate = (token: string) =>
      Effect.gen(function* () {
        const [row] = yield* sql<TokenRow>`SELECT * FROM operator_tokens
          WHERE token_hash = ${hashToken(token)} AND revoked_at IS NULL`
        if (row === undefined) return yield* new Unauthorized({ message: "invalid or revoked token" })
        const now = Date.now()
        if (now - (lastUsedWritten.get(row.id) ?? 0) > LAST_USED_PRECISION_MS) {
          lastUsedWritten.set(row.id, now)
          yield* sql`UPDATE operator_tokens SET last_used_at = now() WHERE id = ${row.id}`
        }
        return { name: row.name, role: row.role, via: "token", tokenId: row.id } satisfies OperatorIdentity
      }).pipe(sqlDefect)

    const create = (name: string, role: Role) =>
      Effect.gen(function* () {
        const operator = yield* requireRole("admin")
        const token = generateToken("itl_op")
        const row = yield* events.transaction(
          Effect.gen(function* () {
            const [row] = yield* insert(name, role, hashToken(token), operator.name)
            yield* audit.append(actorOf(operator), {
              action: "operator_token.created",
              targetType: "operator_token",
              targetId: row!.id,
              details: { name, role }
            })
            return row!
          })
        )
        return new CreatedOperatorToken({ ...toToken(row), token })
      }).pipe(sqlDefect, Effect.withSpan("OperatorTokens.create"))

    const list = (page: Page) =>
      Effect.gen(function* () {
        yield* requireRole("admin")
        const rows = yield* sql<TokenRow>`SELECT * FROM operator_tokens ORDER BY created_at, id LIMIT ${page.limit} OFFSET ${page.offset}`
        const [count] = yield* sql<{ total: number }>`SELECT count(*)::int AS total FROM operator_tokens`
        return new OperatorTokenList({ tokens: rows.map(toToken), total: count!.total, ...page })
      }).pipe(sqlDefect, Effect.withSpan("OperatorTokens.list"))

    const revoke = (id: string) =>
      Effect.gen(function* () {
        const operator = yield* requireRole("admin")
        const row = yield* events.transaction(
          Effect.gen(function* () {
            const [row] = yield* sql<TokenRow>`UPDATE operator_tokens
              SET revoked_at = COALESCE(revoked_at, now()), revoked_by = COALESCE(revoked_by, ${operator.name})
              WHERE id = ${id} RETURNING *`
            if (row === undefined) return yield* new NotFound({ message: `operator token ${id} not found` })
            yield* audit.append(actorOf(operator), {
              action: "operator_token.revoked",
              targetType: "operator_token",
              targetId: id,
              details: { name: row.name }
            })
            return row
          })
        )
        return toToken(row)
      }).pipe(sqlDefect, Effect.withSpan("OperatorTokens.revoke"))

    return { bootstrap, authenticate, create, list, revoke } as const
  })
}) {}
