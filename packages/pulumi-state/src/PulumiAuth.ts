/**
 * Who calls the Pulumi API. The CLI sends `Authorization: token <t>`: either
 * ITL_PULUMI_TOKEN (every pulumi_state right, compared by digest) or an
 * operator token, whose pulumi_state scopes decide what it may do and which an
 * admin may limit to one org or project (TokenLimits). Calls inside a running
 * update send `Authorization: update-token <lease>`; those are checked by the
 * update routes themselves (Updates.ts), against the update in the path.
 */
import { HttpServerRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { OperatorCredentials } from "@itl-attestation/core"
import { Effect, Option, Redacted } from "effect"
import * as crypto from "node:crypto"
import { deployTokenCaller, isDeployToken } from "./deployments/DeployTokens.js"
import { PulumiSettings } from "./PulumiConfig.js"
import { forbidden, type PulumiError, unauthorized } from "./PulumiError.js"
import { PulumiAdmin, PulumiRead, PulumiWrite } from "./scopes.js"

export type Right = "read" | "write" | "admin"

const SCOPE_OF: Record<Right, string> = { read: PulumiRead.name, write: PulumiWrite.name, admin: PulumiAdmin.name }

export interface Caller {
  /** Recorded as the actor of changes: the operator token's name, or `pulumi-token` for ITL_PULUMI_TOKEN. */
  readonly name: string
  readonly tokenId: string | undefined
  readonly rights: ReadonlySet<Right>
  /** Set when an admin limited this token to one org (and possibly one project). */
  readonly limit: { readonly org: string; readonly project: string | null } | undefined
}

const TOKEN = /^token ([\x21-\x7e]+)$/i
const UPDATE_TOKEN = /^update-token ([\x21-\x7e]+)$/i

export const digest = (value: string) => crypto.createHash("sha256").update(value).digest()

/** Compares digests, so neither the content nor the length of the expected value shows in the time taken. */
export const sameSecret = (given: string, expected: string) => crypto.timingSafeEqual(digest(given), digest(expected))

/** The lease token of an `update-token` header, if that is what was sent. */
export const updateTokenOf = (request: HttpServerRequest.HttpServerRequest) =>
  UPDATE_TOKEN.exec(request.headers["authorization"] ?? "")?.[1]

export class PulumiAuth extends Effect.Service<PulumiAuth>()("@itl-attestation/pulumi-state/PulumiAuth", {
  effect: Effect.gen(function* () {
    const settings = yield* PulumiSettings
    const credentials = yield* OperatorCredentials
    const sql = yield* SqlClient.SqlClient

    const limitOf = (tokenId: string) =>
      sql<{ org: string; project: string | null }>`SELECT org, project FROM extension_pulumi_state_token_limits WHERE token_id = ${tokenId}`.pipe(
        Effect.map((rows) => rows[0]),
        Effect.orDie
      )

    /** The caller of a request made with an API token (401 when there is none or it is not valid). */
    const caller = (request: HttpServerRequest.HttpServerRequest): Effect.Effect<Caller, PulumiError> =>
      Effect.gen(function* () {
        const header = request.headers["authorization"]
        if (header === undefined) return yield* unauthorized("missing credentials: send `Authorization: token <access token>`")
        const given = TOKEN.exec(header)?.[1]
        if (given === undefined) {
          return yield* unauthorized(
            UPDATE_TOKEN.test(header)
              ? "an update token is accepted only on its own update's routes"
              : "the Authorization header must be `token <access token>`"
          )
        }
        if (Option.isSome(settings.token) && sameSecret(given, Redacted.value(settings.token.value))) {
          return { name: "pulumi-token", tokenId: undefined, rights: new Set<Right>(["read", "write", "admin"]), limit: undefined }
        }
        if (isDeployToken(given)) return yield* Effect.provideService(deployTokenCaller(request, given), SqlClient.SqlClient, sql)
        const verified = yield* credentials.verify(given)
        if (Option.isNone(verified)) return yield* unauthorized("invalid or revoked access token")
        const token = verified.value
        const rights = new Set<Right>((["read", "write", "admin"] as const).filter((right) => token.scopes.includes(SCOPE_OF[right])))
        return { name: token.name, tokenId: token.tokenId, rights, limit: yield* limitOf(token.tokenId) }
      })

    /** 403 unless the caller has `right` (and, for a limited token, `target` lies within its limit). */
    const check = (who: Caller, right: Right, target?: { readonly org: string; readonly project?: string }) =>
      Effect.gen(function* () {
        if (!who.rights.has(right)) {
          return yield* forbidden(`this action needs the ${SCOPE_OF[right]} scope; the token ${who.name} does not have it`)
        }
        if (target !== undefined && who.limit !== undefined) {
          const { org, project } = who.limit
          if (target.org !== org || (project !== null && target.project !== undefined && target.project !== project)) {
            return yield* forbidden(`the token ${who.name} is limited to ${project === null ? org : `${org}/${project}`}`)
          }
        }
        return who
      })

    /** The caller, checked for `right` on `target`. */
    const authorize = (request: HttpServerRequest.HttpServerRequest, right: Right, target?: { readonly org: string; readonly project?: string }) =>
      Effect.flatMap(caller(request), (who) => check(who, right, target))

    return { caller, check, authorize } as const
  })
}) {}
