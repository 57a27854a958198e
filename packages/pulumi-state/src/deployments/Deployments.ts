/**
 * Deployments as the API exposes them: queue one (checked field by field
 * before anything is written; the environment sealed by the core keyring),
 * list a stack's, read one with its output, cancel one. Each change is an
 * audited change with its event; none holds an environment value.
 */
import type { HttpServerRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { actorOf, AuditedChanges, Keyring, MasterKeyRewrap } from "@itl-attestation/core"
import { Effect } from "effect"
import * as crypto from "node:crypto"
import type { StackRef } from "../names.js"
import { PulumiAuth } from "../PulumiAuth.js"
import { badField, conflict, fail, notFound } from "../PulumiError.js"
import { Stacks } from "../Stacks.js"
import { DeploySettings } from "./DeployConfig.js"
import { type DeploymentRow, environmentAad, OPERATIONS, type Operation, PUBLIC_COLUMNS, toDeployment } from "./Deployment.js"
import { DeploymentWake } from "./DeploymentWake.js"
import { eventOf } from "./events.js"
import { branchProblem, environmentProblem, repoDirProblem, repoProblem } from "./source.js"

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

/** Most variables and bytes per value a deployment may carry. */
const MAX_VARIABLES = 200
const MAX_VALUE_BYTES = 32 * 1024

export interface NewDeployment {
  readonly operation: Operation
  readonly repoURL: string
  readonly branch: string
  readonly repoDir: string
  readonly environment: Readonly<Record<string, string>>
}

/** Where deployment environments are sealed, for the master key rewrap. */
export const deploymentEnvironmentSealed = {
  owner: "pulumi_state",
  table: "extension_pulumi_state_deployments",
  id: "deployment_id",
  keyId: "environment_key_id",
  nonce: "environment_nonce",
  ciphertext: "environment",
  tag: "environment_tag",
  aad: (row: Record<string, unknown>) => environmentAad(String(row.deployment_id))
} as const

const unknownFields = (value: Record<string, unknown>, known: ReadonlyArray<string>, at: string) => {
  const extra = Object.keys(value).filter((key) => !known.includes(key))
  return extra.length === 0 ? Effect.void : badField(`${at}${extra[0]}`, "is not a known field")
}

/** The body of `POST …/deployments`, checked; the first problem is a 400 naming its field. */
export const parseNewDeployment = (body: unknown, allowlist: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    if (!isObject(body)) return yield* fail(400, "request body must be a JSON object")
    yield* unknownFields(body, ["operation", "source", "environment"], "")
    const operation = body.operation
    if (typeof operation !== "string" || !(OPERATIONS as ReadonlyArray<string>).includes(operation)) {
      return yield* badField("operation", `is required and must be one of ${OPERATIONS.join(", ")}`)
    }
    const source = body.source
    if (!isObject(source)) return yield* badField("source", "is required and must be an object {repoURL, branch, repoDir}")
    yield* unknownFields(source, ["repoURL", "branch", "repoDir"], "source.")
    if (typeof source.repoURL !== "string") return yield* badField("source.repoURL", "is required and must be a string")
    if (typeof source.branch !== "string") return yield* badField("source.branch", "is required and must be a string")
    if (source.repoDir !== undefined && typeof source.repoDir !== "string") return yield* badField("source.repoDir", "must be a string")
    const repoDir = (source.repoDir as string | undefined) ?? ""
    const branch = branchProblem(source.branch)
    if (branch !== undefined) return yield* badField("source.branch", branch)
    const dir = repoDirProblem(repoDir)
    if (dir !== undefined) return yield* badField("source.repoDir", dir)
    const repo = repoProblem(allowlist, source.repoURL)
    if (repo !== undefined) return yield* fail(repo.startsWith("must") ? 400 : 403, `source.repoURL: ${repo}`)
    const environment: Record<string, string> = {}
    if (body.environment !== undefined) {
      if (!isObject(body.environment)) return yield* badField("environment", "must be an object of name → string value")
      const entries = Object.entries(body.environment)
      if (entries.length > MAX_VARIABLES) return yield* badField("environment", `at most ${MAX_VARIABLES} variables`)
      for (const [name, value] of entries) {
        const problem = environmentProblem(name)
        if (problem !== undefined) return yield* badField(`environment.${name.slice(0, 64)}`, problem)
        if (typeof value !== "string") return yield* badField(`environment.${name}`, "must be a string")
        if (Buffer.byteLength(value, "utf8") > MAX_VALUE_BYTES || value.includes("\u0000")) {
          return yield* badField(`environment.${name}`, `must be at most ${MAX_VALUE_BYTES} bytes without NUL`)
        }
        environment[name] = value
      }
    }
    return { operation: operation as Operation, repoURL: source.repoURL, branch: source.branch, repoDir, environment } satisfies NewDeployment
  })

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export class Deployments extends Effect.Service<Deployments>()("@itl-attestation/pulumi-state/Deployments", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const auth = yield* PulumiAuth
    const stacks = yield* Stacks
    const keyring = yield* Keyring
    const changes = yield* AuditedChanges
    const settings = yield* DeploySettings
    const wake = yield* DeploymentWake
    yield* Effect.flatMap(MasterKeyRewrap, (rewrap) => rewrap.register(deploymentEnvironmentSealed))
    const columns = sql.unsafe(PUBLIC_COLUMNS.join(", "))

    const find = (stackId: string, id: string) =>
      Effect.gen(function* () {
        if (!UUID.test(id)) return yield* notFound(`deployment '${id}' not found`)
        const [row] = yield* sql<DeploymentRow>`SELECT ${columns} FROM extension_pulumi_state_deployments
          WHERE deployment_id = ${id} AND stack_id = ${stackId}`.pipe(Effect.orDie)
        return row === undefined ? yield* notFound(`deployment '${id}' not found`) : row
      })

    const create = (request: HttpServerRequest.HttpServerRequest, ref: StackRef, body: unknown) =>
      Effect.gen(function* () {
        const who = yield* auth.authorize(request, "write", ref)
        const stack = yield* stacks.get(ref)
        const input = yield* parseNewDeployment(body, settings.allowlist)
        const id = crypto.randomUUID()
        const names = Object.keys(input.environment).sort()
        const sealed = names.length === 0 ? undefined : keyring.seal(Buffer.from(JSON.stringify(input.environment), "utf8"), environmentAad(id))
        const row = yield* changes
          .run(
            actorOf(who),
            sql<DeploymentRow>`INSERT INTO extension_pulumi_state_deployments
              (deployment_id, stack_id, org, project, stack, operation, repo_url, branch, repo_dir, environment_names,
               environment, environment_nonce, environment_tag, environment_key_id, status, created_by)
              VALUES (${id}, ${stack.stack_id}, ${stack.org}, ${stack.project}, ${stack.name}, ${input.operation}, ${input.repoURL},
                ${input.branch}, ${input.repoDir}, ${names.join(",")},
                ${sealed?.ciphertext ?? null}, ${sealed?.nonce ?? null}, ${sealed?.tag ?? null}, ${sealed?.keyId ?? null}, 'queued', ${who.name})
              RETURNING ${columns}`.pipe(Effect.map((rows) => rows[0]!)),
            (created) => ({
              action: "pulumi_state.deployment_queued",
              targetType: "pulumi_deployment",
              targetId: created.deployment_id,
              details: {
                stack: `${created.org}/${created.project}/${created.stack}`,
                operation: created.operation,
                repo_url: created.repo_url,
                branch: created.branch,
                repo_dir: created.repo_dir,
                environment_names: names
              },
              events: [eventOf(created)]
            })
          )
          .pipe(Effect.orDie)
        yield* wake.nudge
        return toDeployment(row)
      })

    const list = (request: HttpServerRequest.HttpServerRequest, ref: StackRef, limit: number, offset: number) =>
      Effect.gen(function* () {
        yield* auth.authorize(request, "read", ref)
        const stack = yield* stacks.get(ref)
        const rows = yield* sql<DeploymentRow>`SELECT ${columns} FROM extension_pulumi_state_deployments WHERE stack_id = ${stack.stack_id}
          ORDER BY created_at DESC, deployment_id LIMIT ${limit} OFFSET ${offset}`.pipe(Effect.orDie)
        const [{ total }] = yield* sql<{ total: number }>`SELECT count(*)::int AS total FROM extension_pulumi_state_deployments
          WHERE stack_id = ${stack.stack_id}`.pipe(Effect.orDie) as Effect.Effect<[{ total: number }]>
        return { deployments: rows.map(toDeployment), total, offset }
      })

    /** One deployment with its output chunks after `after` (at most `limit`). */
    const get = (request: HttpServerRequest.HttpServerRequest, ref: StackRef, id: string, after: number, limit: number) =>
      Effect.gen(function* () {
        yield* auth.authorize(request, "read", ref)
        const stack = yield* stacks.get(ref)
        const row = yield* find(stack.stack_id, id)
        const logs = yield* sql<{ seq: number; text: string; at: Date }>`SELECT seq, text, at FROM extension_pulumi_state_deployment_logs
          WHERE deployment_id = ${row.deployment_id} AND seq > ${after} ORDER BY seq LIMIT ${limit}`.pipe(Effect.orDie)
        return {
          ...toDeployment(row),
          logs: logs.map((l) => ({ seq: l.seq, text: l.text, at: l.at.toISOString() })),
          nextAfter: logs.length === 0 ? after : logs[logs.length - 1]!.seq
        }
      })

    /**
     * A queued deployment is cancelled at once; a running one is marked and
     * its runner stops the process group at its next heartbeat (the answer
     * shows `cancelRequested`); a finished one is a 409.
     */
    const cancel = (request: HttpServerRequest.HttpServerRequest, ref: StackRef, id: string) =>
      Effect.gen(function* () {
        const who = yield* auth.authorize(request, "write", ref)
        const stack = yield* stacks.get(ref)
        const row = yield* find(stack.stack_id, id)
        const updated = yield* changes
          .run(
            actorOf(who),
            sql<DeploymentRow>`UPDATE extension_pulumi_state_deployments SET
                status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
                reason = CASE WHEN status = 'queued' THEN ${`cancelled by ${who.name} before it started`} ELSE reason END,
                ended_at = CASE WHEN status = 'queued' THEN now() ELSE ended_at END,
                cancel_requested = true
              WHERE deployment_id = ${row.deployment_id} AND status IN ('queued', 'running')
              RETURNING ${columns}`.pipe(Effect.map((rows) => rows[0])),
            (changed) =>
              changed === undefined
                ? undefined
                : {
                    action: "pulumi_state.deployment_cancel",
                    targetType: "pulumi_deployment",
                    targetId: changed.deployment_id,
                    details: { stack: `${changed.org}/${changed.project}/${changed.stack}`, was: row.status },
                    events: changed.status === "cancelled" ? [eventOf(changed)] : []
                  }
          )
          .pipe(Effect.orDie)
        if (updated === undefined) return yield* conflict(`deployment '${id}' already ended (${row.status})`)
        yield* wake.nudge
        return toDeployment(updated)
      })

    return { create, list, get, cancel } as const
  })
}) {}
