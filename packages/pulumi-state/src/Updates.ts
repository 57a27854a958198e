/**
 * The update lifecycle: create → start (version, lease token) → checkpoints,
 * events, lease renewals (update-token) → complete or cancel.
 *
 * One update per stack runs at a time: starting one sets its status to
 * `running` under a partial unique index, so of two concurrent starts the
 * database lets exactly one through (409 for the other). A lease that ran out
 * frees the stack: the next start marks it failed first. The lease token is
 * random, stored as its SHA-256, and accepted only for its own update while
 * the lease lives.
 */
import { SqlClient } from "@effect/sql"
import { actorOf, AuditedChanges } from "@itl-attestation/core"
import { Effect } from "effect"
import * as crypto from "node:crypto"
import { applyDelta, memberText, resourceCountOf } from "./checkpointText.js"
import { UpdateFailed, UpdateSucceeded } from "./events.js"
import { checkTags, isObject } from "./names.js"
import { type Caller, digest } from "./PulumiAuth.js"
import { badField, conflict, fail, forbidden, notFound, type PulumiError, unauthorized } from "./PulumiError.js"
import { describeRef, refOf, type StackRow } from "./Stacks.js"

export type UpdateKind = "update" | "preview" | "refresh" | "destroy"

export interface UpdateRow {
  readonly update_id: string
  readonly stack_id: string
  readonly kind: UpdateKind | "import"
  readonly dry_run: boolean
  readonly status: "not started" | "running" | "succeeded" | "failed" | "cancelled"
  readonly version: number | null
  readonly token_hash: string | null
  readonly lease_expires_at: Date | null
  readonly checkpoint_sequence: number
  readonly has_checkpoint: boolean
  readonly created_by: string
  /** Whether the lease is still running (computed by the database's clock). */
  readonly live: boolean
}

/** The CLI assumes five minutes and renews well before. */
export const LEASE_SECONDS = 300
const MAX_LEASE_SECONDS = 3600
/** Engine events kept per update, and per batch (the CLI sends at most 50 per batch). */
export const MAX_EVENTS_PER_UPDATE = 100_000
export const MAX_EVENTS_PER_BATCH = 1_000

export const NOT_THIS_UPDATE = "the update token does not belong to this update"

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const FINAL = new Set(["succeeded", "failed", "cancelled"])

const isUniqueViolation = (error: unknown) => (error as { cause?: { code?: unknown } })?.cause?.code === "23505"

const epoch = (date: Date) => Math.floor(date.getTime() / 1000)

export class Updates extends Effect.Service<Updates>()("@itl-attestation/pulumi-state/Updates", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const changes = yield* AuditedChanges

    const tx = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      sql.withTransaction(effect).pipe(Effect.catchTag("SqlError", (error) => Effect.die(error)))

    /** The update in the path, locked for the rest of the transaction (404 when it is not this stack's). */
    const lockUpdate = (stack: StackRow, updateId: string) =>
      Effect.gen(function* () {
        if (!UUID.test(updateId)) return yield* notFound(`update '${updateId.slice(0, 64)}' not found`)
        const [row] = yield* sql<UpdateRow>`SELECT *, coalesce(lease_expires_at > now(), false) AS live FROM extension_pulumi_state_updates
          WHERE update_id = ${updateId} AND stack_id = ${stack.stack_id} FOR UPDATE`.pipe(Effect.orDie)
        if (row === undefined) return yield* notFound(`update '${updateId}' not found on stack '${describeRef(refOf(stack))}'`)
        return row
      })

    /**
     * The update, locked, if `token` is its lease token: 401 for a token that is not this update's,
     * 403 once the update finished or its lease ran out (the CLI stops renewing on 403).
     */
    const leased = (stack: StackRow, updateId: string, token: string | undefined, options: { readonly finishedOk?: boolean } = {}) =>
      Effect.gen(function* () {
        if (token === undefined) return yield* unauthorized("this route needs `Authorization: update-token <lease token>`")
        // An unknown update is the same 401 as a wrong token: a lease token proves nothing about other updates.
        const row = yield* lockUpdate(stack, updateId).pipe(Effect.catchAll(() => unauthorized(NOT_THIS_UPDATE)))
        const given = digest(token)
        if (row.token_hash === null || !crypto.timingSafeEqual(given, Buffer.from(row.token_hash, "hex"))) {
          return yield* unauthorized(NOT_THIS_UPDATE)
        }
        if (FINAL.has(row.status)) {
          if (options.finishedOk) return row
          return yield* forbidden(`the update is ${row.status}; its lease is gone`)
        }
        if (!row.live) return yield* forbidden("the update's lease expired")
        return row
      })

    const create = (who: Caller, stack: StackRow, kind: UpdateKind, body: Record<string, unknown>) =>
      Effect.gen(function* () {
        const options = body.options ?? {}
        if (!isObject(options)) return yield* badField("options", "must be an object")
        if (options.dryRun !== undefined && typeof options.dryRun !== "boolean") return yield* badField("options.dryRun", "must be a boolean")
        const dryRun = kind === "preview" || options.dryRun === true
        const config = body.config ?? {}
        if (!isObject(config)) return yield* badField("config", "must be an object")
        for (const [key, value] of Object.entries(config)) {
          if (!/^[^:]+:.+$/.test(key)) return yield* badField(`config.${key.slice(0, 60)}`, "config keys are namespace:name")
          if (!isObject(value)) return yield* badField(`config.${key}`, "must be an object {string, secret, object}")
        }
        const metadata = body.metadata ?? {}
        if (!isObject(metadata)) return yield* badField("metadata", "must be an object")
        const message = metadata.message ?? ""
        if (typeof message !== "string") return yield* badField("metadata.message", "must be a string")
        const environment = yield* checkEnvironment(metadata.environment)
        const [row] = yield* sql<{ update_id: string }>`INSERT INTO extension_pulumi_state_updates
            (stack_id, kind, dry_run, status, message, environment, config, created_by)
          VALUES (${stack.stack_id}, ${kind}, ${dryRun}, 'not started', ${message.slice(0, 4096)}, ${JSON.stringify(environment)}::jsonb,
            ${JSON.stringify(config)}::jsonb, ${who.name})
          RETURNING update_id`.pipe(Effect.orDie)
        return row!.update_id
      })

    const start = (stack: StackRow, updateId: string, body: Record<string, unknown>) =>
      Effect.gen(function* () {
        const tags = body.tags === undefined || body.tags === null ? undefined : yield* checkTags(body.tags, "tags")
        const token = crypto.randomBytes(32).toString("base64url")
        const started = yield* tx(
          Effect.gen(function* () {
            const update = yield* lockUpdate(stack, updateId)
            if (update.status !== "not started") return yield* conflict(`update '${updateId}' was already started`)
            // A lease that ran out frees the stack for this start.
            yield* sql`UPDATE extension_pulumi_state_updates SET status = 'failed', ended_at = now()
              WHERE stack_id = ${stack.stack_id} AND status = 'running' AND lease_expires_at <= now()`
            const [current] = yield* sql<{ version: number }>`SELECT version FROM extension_pulumi_state_stacks WHERE stack_id = ${stack.stack_id} FOR UPDATE`
            const version = update.dry_run ? current!.version : current!.version + 1
            const [row] = yield* sql<{ lease_expires_at: Date }>`UPDATE extension_pulumi_state_updates
              SET status = 'running', token_hash = ${digest(token).toString("hex")}, version = ${version},
                  lease_expires_at = now() + ${LEASE_SECONDS} * interval '1 second', started_at = now()
              WHERE update_id = ${updateId} RETURNING lease_expires_at`
            if (!update.dry_run) yield* sql`UPDATE extension_pulumi_state_stacks SET version = ${version} WHERE stack_id = ${stack.stack_id}`
            if (tags !== undefined) yield* sql`UPDATE extension_pulumi_state_stacks SET tags = ${JSON.stringify(tags)}::jsonb WHERE stack_id = ${stack.stack_id}`
            return { version, expires: row!.lease_expires_at }
          }).pipe(
            Effect.catchTag("SqlError", (error) =>
              isUniqueViolation(error)
                ? conflict(`Another update is currently in progress on stack '${describeRef(refOf(stack))}'.`)
                : Effect.die(error)
            )
          )
        )
        return { version: started.version, token, tokenExpiration: epoch(started.expires) }
      })

    const renew = (stack: StackRow, updateId: string, token: string | undefined, body: Record<string, unknown>) =>
      Effect.gen(function* () {
        const duration = body.duration ?? LEASE_SECONDS
        if (!Number.isInteger(duration) || (duration as number) < 1 || (duration as number) > MAX_LEASE_SECONDS) {
          return yield* badField("duration", `must be an integer number of seconds from 1 to ${MAX_LEASE_SECONDS}`)
        }
        const expires = yield* tx(
          Effect.gen(function* () {
            yield* leased(stack, updateId, token)
            const [row] = yield* sql<{ lease_expires_at: Date }>`UPDATE extension_pulumi_state_updates
              SET lease_expires_at = now() + ${duration as number} * interval '1 second'
              WHERE update_id = ${updateId} RETURNING lease_expires_at`
            return row!.lease_expires_at
          })
        )
        // The same token stays valid: it is only stored as a digest, and the CLI replaces it with what we return.
        return { token: token!, tokenExpiration: epoch(expires) }
      })

    /** Stores `text` as the stack's state (the update's checkpoint `sequence`, when it has one). */
    const save = (stack: StackRow, update: UpdateRow, text: string, resourceCount: number, sequence: number | undefined) =>
      Effect.all(
        [
          sql`UPDATE extension_pulumi_state_stacks SET state = ${text}, resource_count = ${resourceCount} WHERE stack_id = ${stack.stack_id}`,
          sql`UPDATE extension_pulumi_state_updates SET has_checkpoint = true,
              checkpoint_sequence = ${sequence ?? update.checkpoint_sequence} WHERE update_id = ${update.update_id}`
        ],
        { discard: true }
      )

    const writable = (update: UpdateRow) =>
      update.dry_run ? fail(400, "a preview saves no state: checkpoints belong to updates that are not dry runs") : Effect.void

    /** `undefined`: apply; `"replay"`: already applied (a retry), answer OK and store nothing. */
    const sequenceCheck = (update: UpdateRow, sequence: unknown) =>
      Effect.gen(function* () {
        if (!Number.isInteger(sequence) || (sequence as number) < 1) return yield* badField("sequenceNumber", "must be an integer of at least 1")
        const n = sequence as number
        if (n <= update.checkpoint_sequence) return "replay" as const
        if (n !== update.checkpoint_sequence + 1) {
          return yield* badField("sequenceNumber", `expected ${update.checkpoint_sequence + 1} (or a retry of ${update.checkpoint_sequence}), got ${n}`)
        }
        return undefined
      })

    const checkDeploymentVersion = (value: unknown) =>
      Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 4 ? Effect.void : badField("version", "must be a deployment schema version from 1 to 4")

    const checkpointFull = (stack: StackRow, updateId: string, token: string | undefined, body: Record<string, unknown>) =>
      tx(
        Effect.gen(function* () {
          const update = yield* leased(stack, updateId, token)
          yield* writable(update)
          yield* checkDeploymentVersion(body.version)
          if (!isObject(body.deployment)) return yield* badField("deployment", "must be an object")
          if (body.features !== undefined && body.features !== null && !Array.isArray(body.features)) return yield* badField("features", "must be an array")
          const untyped = {
            version: body.version,
            ...(Array.isArray(body.features) && body.features.length > 0 ? { features: body.features } : {}),
            deployment: body.deployment
          }
          yield* save(stack, update, JSON.stringify(untyped), resourceCountOf(untyped), undefined).pipe(Effect.orDie)
        })
      )

    const checkpointVerbatim = (stack: StackRow, updateId: string, token: string | undefined, body: Record<string, unknown>, text: string) =>
      tx(
        Effect.gen(function* () {
          const update = yield* leased(stack, updateId, token)
          yield* writable(update)
          yield* checkDeploymentVersion(body.version)
          if (!isObject(body.untypedDeployment) || !isObject(body.untypedDeployment.deployment)) {
            return yield* badField("untypedDeployment", "must be an object with a deployment")
          }
          if ((yield* sequenceCheck(update, body.sequenceNumber)) === "replay") return
          const raw = memberText(text, "untypedDeployment")
          if (raw === undefined) return yield* badField("untypedDeployment", "could not be read")
          yield* save(stack, update, raw, resourceCountOf(body.untypedDeployment), body.sequenceNumber as number).pipe(Effect.orDie)
        })
      )

    const checkpointDelta = (stack: StackRow, updateId: string, token: string | undefined, body: Record<string, unknown>) =>
      tx(
        Effect.gen(function* () {
          const update = yield* leased(stack, updateId, token)
          yield* writable(update)
          yield* checkDeploymentVersion(body.version)
          if (typeof body.checkpointHash !== "string" || !/^[0-9a-fA-F]{64}$/.test(body.checkpointHash)) {
            return yield* badField("checkpointHash", "must be a SHA-256 in hex")
          }
          if ((yield* sequenceCheck(update, body.sequenceNumber)) === "replay") return
          if (!update.has_checkpoint) return yield* badField("deploymentDelta", "this update saved no checkpoint yet to apply a delta to")
          const [current] = yield* sql<{ state: string | null }>`SELECT state FROM extension_pulumi_state_stacks WHERE stack_id = ${stack.stack_id}`.pipe(Effect.orDie)
          const applied = applyDelta(current?.state ?? "", body.deploymentDelta, body.checkpointHash)
          if (!applied.ok) return yield* badField(applied.field, applied.message)
          let parsed: unknown
          try {
            parsed = JSON.parse(applied.text)
          } catch {
            return yield* badField("deploymentDelta", "the edited state is not valid JSON")
          }
          if (!isObject(parsed) || !isObject(parsed.deployment)) return yield* badField("deploymentDelta", "the edited state has no deployment")
          yield* save(stack, update, applied.text, resourceCountOf(parsed), body.sequenceNumber as number).pipe(Effect.orDie)
        })
      )

    const events = (stack: StackRow, updateId: string, token: string | undefined, body: Record<string, unknown>) =>
      tx(
        Effect.gen(function* () {
          const update = yield* leased(stack, updateId, token)
          const list = body.events
          if (!Array.isArray(list)) return yield* badField("events", "must be an array")
          if (list.length > MAX_EVENTS_PER_BATCH) return yield* badField("events", `at most ${MAX_EVENTS_PER_BATCH} events per batch`)
          let changes: unknown
          for (const [i, event] of list.entries()) {
            if (!isObject(event)) return yield* badField(`events[${i}]`, "must be an object")
            if (!Number.isInteger(event.sequence) || (event.sequence as number) < 0) return yield* badField(`events[${i}].sequence`, "must be a non-negative integer")
            const summary = event.summaryEvent
            if (isObject(summary) && isObject(summary.resourceChanges)) changes = summary.resourceChanges
          }
          if (list.length === 0) return
          const [{ n }] = (yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM extension_pulumi_state_events WHERE update_id = ${update.update_id}`.pipe(
            Effect.orDie
          )) as unknown as [{ n: number }]
          if (n + list.length > MAX_EVENTS_PER_UPDATE) return yield* fail(413, `an update keeps at most ${MAX_EVENTS_PER_UPDATE} engine events`)
          const rows = list.map((event) => ({ update_id: update.update_id, sequence: event.sequence as number, event: JSON.stringify(event) }))
          // A retried batch carries the same sequence numbers: nothing is stored twice.
          yield* sql`INSERT INTO extension_pulumi_state_events ${sql.insert(rows)} ON CONFLICT (update_id, sequence) DO NOTHING`.pipe(Effect.orDie)
          if (changes !== undefined) {
            yield* sql`UPDATE extension_pulumi_state_updates SET resource_changes = ${JSON.stringify(changes)}::jsonb WHERE update_id = ${update.update_id}`.pipe(
              Effect.orDie
            )
          }
        })
      )

    /** Finishes an update; the state it left becomes its version. A repeated call (a retry) changes nothing. */
    const finish = (
      actor: string,
      stack: StackRow,
      update: UpdateRow,
      status: "succeeded" | "failed" | "cancelled"
    ): Effect.Effect<void, PulumiError> => {
      const work = Effect.gen(function* () {
        yield* sql`UPDATE extension_pulumi_state_updates SET status = ${status}, ended_at = now() WHERE update_id = ${update.update_id}`
        if (update.dry_run) return false
        yield* sql`UPDATE extension_pulumi_state_stacks SET last_update_at = now() WHERE stack_id = ${stack.stack_id}`
        yield* sql`INSERT INTO extension_pulumi_state_versions (stack_id, version, state)
          SELECT stack_id, ${update.version}, coalesce(state, ${EMPTY_STATE}) FROM extension_pulumi_state_stacks WHERE stack_id = ${stack.stack_id}
          ON CONFLICT (stack_id, version) DO UPDATE SET state = excluded.state`
        return true
      })
      const ref = refOf(stack)
      return changes
        .run(actorOf({ name: actor }), work, (real) =>
          real
            ? {
                action: status === "succeeded" ? "pulumi_state.update_succeeded" : "pulumi_state.update_failed",
                targetType: "pulumi_stack",
                targetId: describeRef(ref),
                details: { update_id: update.update_id, kind: update.kind, version: update.version, status },
                events: [
                  {
                    type: status === "succeeded" ? UpdateSucceeded.type : UpdateFailed.type,
                    data: { org: ref.org, project: ref.project, stack: ref.stack, update_id: update.update_id, kind: update.kind, version: update.version ?? 0 }
                  }
                ]
              }
            : undefined
        )
        .pipe(Effect.asVoid, Effect.orDie)
    }

    const complete = (stack: StackRow, updateId: string, token: string | undefined, body: Record<string, unknown>) =>
      Effect.gen(function* () {
        const status = body.status
        if (status !== "succeeded" && status !== "failed" && status !== "cancelled") {
          return yield* badField("status", "must be succeeded, failed or cancelled")
        }
        yield* tx(
          Effect.gen(function* () {
            const update = yield* leased(stack, updateId, token, { finishedOk: true })
            if (FINAL.has(update.status)) return
            // Recorded under whoever created the update: the lease token is that caller's.
            yield* finish(update.created_by, stack, update, status)
          })
        )
      })

    /** `pulumi cancel`: an API-token call that ends a running (or not yet started) update. */
    const cancel = (actor: string, stack: StackRow, updateId: string) =>
      tx(
        Effect.gen(function* () {
          const update = yield* lockUpdate(stack, updateId)
          if (FINAL.has(update.status)) return
          yield* finish(actor, stack, update, "cancelled")
        })
      )

    const status = (stack: StackRow, updateId: string) =>
      Effect.gen(function* () {
        if (!UUID.test(updateId)) return yield* notFound(`update '${updateId.slice(0, 64)}' not found`)
        const [row] = yield* sql<UpdateRow>`SELECT *, coalesce(lease_expires_at > now(), false) AS live FROM extension_pulumi_state_updates
          WHERE update_id = ${updateId} AND stack_id = ${stack.stack_id}`.pipe(Effect.orDie)
        if (row === undefined) return yield* notFound(`update '${updateId}' not found on stack '${describeRef(refOf(stack))}'`)
        return row
      })

    /**
     * `pulumi stack import`: the text becomes the stack's state and its next version, recorded as a
     * finished update of kind `import` (with an audit row). Refused (409) while an update runs.
     */
    const importState = (who: Caller, stack: StackRow, body: Record<string, unknown>, text: string) =>
      Effect.gen(function* () {
        yield* checkDeploymentVersion(body.version)
        if (!isObject(body.deployment)) return yield* badField("deployment", "must be an object")
        if (body.features !== undefined && body.features !== null && !Array.isArray(body.features)) return yield* badField("features", "must be an array")
        const ref = refOf(stack)
        return yield* tx(
          Effect.gen(function* () {
            const [current] = yield* sql<{ version: number }>`SELECT version FROM extension_pulumi_state_stacks WHERE stack_id = ${stack.stack_id} FOR UPDATE`.pipe(Effect.orDie)
            const [running] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM extension_pulumi_state_updates
              WHERE stack_id = ${stack.stack_id} AND status = 'running' AND lease_expires_at > now()`.pipe(Effect.orDie)
            if (running!.n > 0) return yield* conflict(`Another update is currently in progress on stack '${describeRef(ref)}'.`)
            const version = current!.version + 1
            const work = Effect.gen(function* () {
              const [row] = yield* sql<{ update_id: string }>`INSERT INTO extension_pulumi_state_updates
                  (stack_id, kind, dry_run, status, version, created_by, started_at, ended_at, has_checkpoint)
                VALUES (${stack.stack_id}, 'import', false, 'succeeded', ${version}, ${who.name}, now(), now(), true)
                RETURNING update_id`
              yield* sql`UPDATE extension_pulumi_state_stacks SET state = ${text}, resource_count = ${resourceCountOf(body)},
                  version = ${version}, last_update_at = now() WHERE stack_id = ${stack.stack_id}`
              yield* sql`INSERT INTO extension_pulumi_state_versions (stack_id, version, state) VALUES (${stack.stack_id}, ${version}, ${text})
                ON CONFLICT (stack_id, version) DO UPDATE SET state = excluded.state`
              return row!.update_id
            })
            return yield* changes
              .run(actorOf(who), work, (updateId) => ({
                action: "pulumi_state.stack_imported",
                targetType: "pulumi_stack",
                targetId: describeRef(ref),
                details: { update_id: updateId, version, resource_count: resourceCountOf(body) },
                events: [
                  { type: UpdateSucceeded.type, data: { org: ref.org, project: ref.project, stack: ref.stack, update_id: updateId, kind: "import", version } }
                ]
              }))
              .pipe(Effect.orDie)
          })
        )
      })

    /** Non-preview updates, newest first, `pageSize` per page (pages count from 1). */
    const history = (stack: StackRow, pageSize: number, page: number) =>
      sql<HistoryRow>`SELECT kind, status, version, message, environment, config, resource_changes, started_at, created_at, ended_at
        FROM extension_pulumi_state_updates
        WHERE stack_id = ${stack.stack_id} AND NOT dry_run AND version IS NOT NULL
        ORDER BY version DESC, created_at DESC LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize}`.pipe(Effect.orDie)

    return { importState, history, create, start, renew, checkpointFull, checkpointVerbatim, checkpointDelta, events, complete, cancel, status, finish } as const
  })
}) {}

export interface HistoryRow {
  readonly kind: string
  readonly status: UpdateRow["status"]
  readonly version: number
  readonly message: string
  readonly environment: Record<string, string>
  readonly config: Record<string, unknown>
  readonly resource_changes: Record<string, number> | null
  readonly started_at: Date | null
  readonly created_at: Date
  readonly ended_at: Date | null
}

const EMPTY_STATE = '{"version":3,"deployment":{"manifest":{"time":"0001-01-01T00:00:00Z","magic":"","version":""}}}'

const checkEnvironment = (value: unknown) =>
  Effect.gen(function* () {
    if (value === undefined || value === null) return {} as Record<string, string>
    if (!isObject(value)) return yield* badField("metadata.environment", "must be an object of strings")
    for (const [key, v] of Object.entries(value)) {
      if (typeof v !== "string") return yield* badField(`metadata.environment.${key.slice(0, 60)}`, "must be a string")
    }
    return value as Record<string, string>
  })
