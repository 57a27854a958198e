/**
 * Operator bearer tokens: random, stored as SHA-256 hashes, each with a name
 * and a role, revocable. Also the bootstrap of the first admin token.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option, Redacted } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { sqlDefect } from "../db/sqlDefect.js"
import { AuditedChanges } from "../audit/AuditedChanges.js"
import { AppConfig, isEmbedded } from "../config/AppConfig.js"
import { actorOf, authorized } from "../authorization/Authorized.js"
import { OperatorsAdmin } from "../authorization/coreScopes.js"
import { roleHasScope } from "../authorization/Scope.js"
import { ScopeRegistry } from "../authorization/ScopeRegistry.js"
import { BadRequest, Forbidden, NotFound, Unauthorized } from "../http/ApiError.js"
import type { Page } from "../http/Pagination.js"
import { CreatedOperatorToken, type OperatorIdentity, OperatorToken, OperatorTokenList, type Role } from "./Operator.js"
import { generateToken, hashToken } from "./tokenHash.js"
import { traced } from "../observability/traced.js"

interface TokenRow {
  readonly id: string
  readonly name: string
  readonly role: Role
  readonly scopes: ReadonlyArray<string> | null
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

export { actorOf }

export class OperatorTokens extends Effect.Service<OperatorTokens>()("@itl-attestation/core/OperatorTokens", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const changes = yield* AuditedChanges
    const config = yield* AppConfig
    const registry = yield* ScopeRegistry
    const lastUsedWritten = new Map<string, number>()

    const insert = (name: string, role: Role, tokenHash: string, createdBy: string, scopes: ReadonlyArray<string> | null = null) =>
      sql<TokenRow>`INSERT INTO operator_tokens (name, role, token_hash, created_by, scopes)
        VALUES (${name}, ${role}, ${tokenHash}, ${createdBy}, ${scopes === null ? null : sql`${scopes}::text[]`})
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
        // Printed only on the start that generated it; later starts say where it is kept.
        yield* Effect.logInfo(`admin token: in ${file} (generated on the first start)`)
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
        return { name: row.name, role: row.role, via: "token", tokenId: row.id, scopes: row.scopes } satisfies OperatorIdentity
      }).pipe(sqlDefect)

    /**
     * The scopes a new token is limited to, checked against the registry and
     * its role: every one must exist and belong to the role (named as
     * `scopes[i]` when not). Duplicates are dropped.
     */
    const checkScopes = (role: Role, requested: ReadonlyArray<string> | undefined) =>
      Effect.gen(function* () {
        if (requested === undefined) return null
        const scopes: Array<string> = []
        for (const [i, name] of requested.entries()) {
          const field = `scopes[${i}]`
          const scope = yield* registry.lookup(name)
          if (Option.isNone(scope)) {
            return yield* new BadRequest({ message: `${field}: unknown scope ${JSON.stringify(name)}`, details: { field } })
          }
          if (!roleHasScope(role, scope.value)) {
            return yield* new BadRequest({
              message: `${field}: ${name} needs the ${scope.value.grantedTo} role or above; the token's role is ${role}`,
              details: { field }
            })
          }
          if (!scopes.includes(name)) scopes.push(name)
        }
        return scopes.sort()
      })

    /**
     * Creates a token. A credential can hand out only what it has: a token
     * limited to some scopes cannot create one with scopes beyond them.
     */
    const create = (name: string, role: Role, requestedScopes?: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        const operator = yield* authorized(OperatorsAdmin)
        const scopes = yield* checkScopes(role, requestedScopes)
        const effective = scopes ?? (yield* registry.scopesOfRole(role))
        const beyond = effective.filter((scope) => !operator.scopes.includes(scope))
        if (beyond.length > 0) {
          return yield* new Forbidden({
            message: `${operator.name} cannot create a token with scopes it does not have: ${beyond.join(", ")}`,
            details: { scopes: beyond }
          })
        }
        const token = generateToken("itl_op")
        const row = yield* changes.run(
          actorOf(operator),
          Effect.map(insert(name, role, hashToken(token), operator.name, scopes), (rows) => rows[0]!),
          (row) => ({ action: "operator_token.created", targetType: "operator_token", targetId: row.id, details: { name, role, scopes } })
        )
        return new CreatedOperatorToken({ ...toToken(row), token })
      }).pipe(sqlDefect, traced("OperatorTokens.create"))

    const list = (page: Page) =>
      Effect.gen(function* () {
        yield* authorized(OperatorsAdmin)
        const rows = yield* sql<TokenRow>`SELECT * FROM operator_tokens ORDER BY created_at, id LIMIT ${page.limit} OFFSET ${page.offset}`
        const [count] = yield* sql<{ total: number }>`SELECT count(*)::int AS total FROM operator_tokens`
        return new OperatorTokenList({ tokens: rows.map(toToken), total: count!.total, ...page })
      }).pipe(sqlDefect, traced("OperatorTokens.list"))

    const revoke = (id: string) =>
      Effect.gen(function* () {
        const operator = yield* authorized(OperatorsAdmin)
        const row = yield* changes.run(
          actorOf(operator),
          Effect.flatMap(
            sql<TokenRow>`UPDATE operator_tokens
              SET revoked_at = COALESCE(revoked_at, now()), revoked_by = COALESCE(revoked_by, ${operator.name})
              WHERE id = ${id} RETURNING *`,
            ([row]) => (row === undefined ? Effect.fail(new NotFound({ message: `operator token ${id} not found` })) : Effect.succeed(row))
          ),
          (row) => ({ action: "operator_token.revoked", targetType: "operator_token", targetId: id, details: { name: row.name } })
        )
        return toToken(row)
      }).pipe(sqlDefect, traced("OperatorTokens.revoke"))

    /**
     * Whether `token` is a live operator token, without counting it as used:
     * machine endpoints ask, to tell an operator who calls them what to use instead.
     */
    const isOperatorToken = (token: string) =>
      sql<{ n: number }>`SELECT count(*)::int AS n FROM operator_tokens WHERE token_hash = ${hashToken(token)} AND revoked_at IS NULL`.pipe(
        Effect.map(([row]) => row!.n > 0),
        sqlDefect
      )

    return { bootstrap, authenticate, create, list, revoke, isOperatorToken } as const
  })
}) {}
