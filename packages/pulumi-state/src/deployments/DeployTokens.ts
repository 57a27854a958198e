/**
 * Deployment tokens: what the runner's `pulumi` logs in with. Random
 * (`pdt_` + 32 bytes), stored only as a SHA-256 digest, valid until the run's
 * timeout and only while its deployment is running (the row goes when the run
 * ends). The Pulumi API accepts one for the login routes and for the routes
 * of its own stack only — never another stack, the listing of stacks, the
 * deployments routes or anything needing pulumi_state:admin.
 */
import type { HttpServerRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import * as crypto from "node:crypto"
import type { Caller, Right } from "../PulumiAuth.js"
import { forbidden, unauthorized } from "../PulumiError.js"

export const DEPLOY_TOKEN_PREFIX = "pdt_"

export const isDeployToken = (token: string) => token.startsWith(DEPLOY_TOKEN_PREFIX)

export const newDeployToken = () => `${DEPLOY_TOKEN_PREFIX}${crypto.randomBytes(32).toString("base64url")}`

export const deployTokenHash = (token: string) => crypto.createHash("sha256").update(token).digest("hex")

export interface DeployTokenOwner {
  readonly deploymentId: string
  readonly org: string
  readonly project: string
  readonly stack: string
}

/** The running deployment a token belongs to, or None (unknown, expired, or its run is over). */
export const verifyDeployToken = (token: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ deployment_id: string; org: string; project: string; stack: string }>`
      SELECT d.deployment_id, d.org, d.project, d.stack
      FROM extension_pulumi_state_deploy_tokens t
      JOIN extension_pulumi_state_deployments d ON d.deployment_id = t.deployment_id
      WHERE t.token_hash = ${deployTokenHash(token)} AND t.expires_at > now() AND d.status = 'running'`.pipe(
      Effect.map(([row]) =>
        row === undefined
          ? Option.none<DeployTokenOwner>()
          : Option.some<DeployTokenOwner>({ deploymentId: row.deployment_id, org: row.org, project: row.project, stack: row.stack })
      ),
      Effect.orDie
    )
  )

const LOGIN_ROUTES = new Set(["/api/user", "/api/user/organizations/default", "/api/capabilities"])

/**
 * Whether a request may be made with the token of `owner`'s deployment: the
 * login routes, and the stack's own routes except its deployments. Path
 * components are compared after percent-decoding, as the router matches them.
 */
export const deployTokenAllows = (owner: DeployTokenOwner, request: HttpServerRequest.HttpServerRequest): boolean => {
  const pathname = request.url.split("?")[0]!.replace(/\/+$/, "")
  if (LOGIN_ROUTES.has(pathname)) return request.method === "GET"
  const parts = pathname.split("/")
  if (parts.length < 6 || parts[1] !== "api" || parts[2] !== "stacks") return false
  let org: string, project: string, stack: string
  try {
    ;[org, project, stack] = [decodeURIComponent(parts[3]!), decodeURIComponent(parts[4]!), decodeURIComponent(parts[5]!)]
  } catch {
    return false
  }
  if (org !== owner.org || project !== owner.project || stack !== owner.stack) return false
  return parts[6] !== "deployments"
}

/**
 * The Pulumi API's caller for a deployment token (PulumiAuth): read and write
 * rights, limited to the deployment's org and project, on the routes
 * `deployTokenAllows`; 401 for a token that is unknown, expired or whose run
 * is over, 403 for any other route.
 */
export const deployTokenCaller = (request: HttpServerRequest.HttpServerRequest, token: string) =>
  Effect.gen(function* () {
    const owner = yield* verifyDeployToken(token)
    if (Option.isNone(owner)) return yield* unauthorized("invalid or expired deployment token")
    if (!deployTokenAllows(owner.value, request)) {
      return yield* forbidden(`a deployment token is accepted only for its own stack ${owner.value.org}/${owner.value.project}/${owner.value.stack}`)
    }
    return {
      name: `deployment:${owner.value.deploymentId}`,
      tokenId: undefined,
      rights: new Set<Right>(["read", "write"]),
      limit: { org: owner.value.org, project: owner.value.project }
    } satisfies Caller
  })
