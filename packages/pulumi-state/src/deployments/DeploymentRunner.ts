/**
 * The runner: every instance takes queued deployments from the table, at most
 * ITL_PULUMI_DEPLOY_CONCURRENCY at a time. A claim is one UPDATE of the
 * oldest queued row whose stack has nothing running, picked with FOR UPDATE
 * SKIP LOCKED, so two instances never take the same row; a partial unique
 * index keeps one running deployment per stack. While a run lasts, a
 * heartbeat every second stores its new output, renews the lease and looks
 * for a cancel request. A row whose lease ran out (its instance died) is
 * ended `failed` by whichever instance looks next.
 */
import { SqlClient } from "@effect/sql"
import { AuditedChanges, Keyring, systemActor } from "@itl-attestation/core"
import { Deferred, Effect, Exit, FiberSet, Layer, Option, Ref } from "effect"
import * as crypto from "node:crypto"
import { Stacks } from "../Stacks.js"
import { Updates } from "../Updates.js"
import { DeploySettings } from "./DeployConfig.js"
import { type DeploymentRow, environmentAad, PUBLIC_COLUMNS } from "./Deployment.js"
import { DeploymentWake } from "./DeploymentWake.js"
import { deployTokenHash, newDeployToken } from "./DeployTokens.js"
import { eventOf } from "./events.js"
import { makeBound, makeRedactor } from "./redact.js"
import { runDeployment, type RunOutcome } from "./runner.js"

/** Longest wait between two looks at the queue (work queued on another instance, leases run out). */
const POLL_MS = 1000
const HEARTBEAT_MS = 1000
/** A runner that missed this many seconds of heartbeats is taken for dead. */
export const LEASE_SECONDS = 15

type Ending = { readonly status: "succeeded" | "failed" | "cancelled"; readonly reason: string | null }

export const DeploymentRunner = Layer.scopedDiscard(
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const keyring = yield* Keyring
    const changes = yield* AuditedChanges
    const settings = yield* DeploySettings
    const wake = yield* DeploymentWake
    const stacks = yield* Stacks
    const updates = yield* Updates
    const instance = crypto.randomUUID()
    const columns = sql.unsafe(PUBLIC_COLUMNS.map((c) => `d.${c}`).join(", "))
    const runs = yield* FiberSet.make()
    const active = yield* Ref.make(0)

    const record = (row: DeploymentRow, action: string) => ({
      action,
      targetType: "pulumi_deployment",
      targetId: row.deployment_id,
      details: { stack: `${row.org}/${row.project}/${row.stack}`, operation: row.operation, status: row.status, reason: row.reason },
      events: [eventOf(row)]
    })

    /** Ends, one at a time, the running rows whose runner stopped renewing the lease. */
    const endLost = changes
      .run(
        systemActor,
        sql<DeploymentRow>`UPDATE extension_pulumi_state_deployments d SET status = 'failed', ended_at = now(),
            reason = 'its runner stopped (the instance running it ended or hung): the lease ran out'
          WHERE d.deployment_id = (SELECT deployment_id FROM extension_pulumi_state_deployments
            WHERE status = 'running' AND lease_until < now() LIMIT 1 FOR UPDATE SKIP LOCKED)
          RETURNING ${columns}`.pipe(Effect.map((rows) => rows[0])),
        (row) => (row === undefined ? undefined : record(row, "pulumi_state.deployment_failed"))
      )
      .pipe(
        Effect.tap((row) => (row === undefined ? Effect.void : sql`DELETE FROM extension_pulumi_state_deploy_tokens WHERE deployment_id = ${row.deployment_id}`)),
        Effect.repeat({ until: (row) => row === undefined })
      )

    /** The oldest queued deployment whose stack runs nothing, now ours; undefined when there is none. */
    const claim = changes
      .run(
        systemActor,
        sql<DeploymentRow & { environment: Uint8Array | null }>`UPDATE extension_pulumi_state_deployments d
          SET status = 'running', claimed_by = ${instance}, started_at = now(),
            lease_until = now() + make_interval(secs => ${LEASE_SECONDS})
          WHERE d.deployment_id = (SELECT q.deployment_id FROM extension_pulumi_state_deployments q
              WHERE q.status = 'queued' AND NOT EXISTS (SELECT 1 FROM extension_pulumi_state_deployments r
                WHERE r.stack_id = q.stack_id AND r.status = 'running')
              ORDER BY q.created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
            AND d.status = 'queued'
          RETURNING ${columns}, d.environment, d.environment_nonce, d.environment_tag, d.environment_key_id`.pipe(Effect.map((rows) => rows[0])),
        (row) => (row === undefined ? undefined : record(row, "pulumi_state.deployment_started"))
      )
      // Another instance claimed a deployment of the same stack at the same moment (the unique index): try at the next look.
      .pipe(Effect.catchAll(() => Effect.succeed(undefined)))

    const environmentOf = (row: DeploymentRow) =>
      row.environment === null
        ? Effect.succeed({} as Record<string, string>)
        : keyring
            .open(
              { keyId: row.environment_key_id!, nonce: Buffer.from(row.environment_nonce!), ciphertext: Buffer.from(row.environment), tag: Buffer.from(row.environment_tag!) },
              environmentAad(row.deployment_id)
            )
            .pipe(Effect.map((plain) => JSON.parse(plain.toString("utf8")) as Record<string, string>))

    /**
     * On SIGINT the CLI ends its own update (as failed) before it exits; a CLI that had to be killed (past the
     * grace period) or that crashed leaves it running. Whatever is still open is ended here, as `pulumi cancel`
     * would, so that the stack is free at once instead of when that update's lease runs out (five minutes).
     */
    const endOwnUpdates = (row: DeploymentRow) =>
      Effect.gen(function* () {
        const stack = yield* stacks.find({ org: row.org, project: row.project, stack: row.stack })
        if (stack === undefined) return
        const actor = `deployment:${row.deployment_id}`
        const open = yield* sql<{ update_id: string }>`SELECT update_id FROM extension_pulumi_state_updates
          WHERE stack_id = ${stack.stack_id} AND created_by = ${actor} AND status IN ('not started', 'running')`
        for (const { update_id } of open) yield* updates.cancel(actor, stack, update_id)
      }).pipe(Effect.catchAllCause((cause) => Effect.logWarning("a deployment's unfinished Pulumi update could not be ended", cause)))

    const finish = (row: DeploymentRow, ending: Ending) =>
      changes
        .run(
          systemActor,
          sql<DeploymentRow>`UPDATE extension_pulumi_state_deployments d SET status = ${ending.status}, reason = ${ending.reason},
              ended_at = now(), lease_until = NULL
            WHERE d.deployment_id = ${row.deployment_id} AND d.claimed_by = ${instance} AND d.status = 'running'
            RETURNING ${columns}`.pipe(Effect.map((rows) => rows[0])),
          (done) => (done === undefined ? undefined : record(done, `pulumi_state.deployment_${done.status}`))
        )
        .pipe(
          Effect.zipRight(sql`DELETE FROM extension_pulumi_state_deploy_tokens WHERE deployment_id = ${row.deployment_id}`),
          Effect.zipRight(endOwnUpdates(row))
        )

    const run = (row: DeploymentRow) =>
      Effect.gen(function* () {
        const opened = yield* Effect.either(environmentOf(row))
        if (opened._tag === "Left") return yield* finish(row, { status: "failed", reason: "its environment could not be opened with the keyring's keys" })
        const environment = opened.right
        const token = newDeployToken()
        yield* sql`INSERT INTO extension_pulumi_state_deploy_tokens (token_hash, deployment_id, expires_at)
          VALUES (${deployTokenHash(token)}, ${row.deployment_id}, now() + make_interval(secs => ${Math.ceil(settings.timeoutMs / 1000) + 60}))`

        // Output: redacted (environment values and the token), bounded, then stored by the heartbeat.
        const redactor = makeRedactor([...Object.values(environment), token])
        const bound = makeBound(settings.maxLogBytes)
        let pending: Array<string> = []
        let pid: number | null = null
        let seq = 0
        const output = (text: string) => {
          const kept = bound.take(redactor.push(text))
          if (kept !== "") pending.push(kept)
        }
        const flush = Effect.suspend(() => {
          if (pending.length === 0) return Effect.void
          const text = pending.join("")
          pending = []
          seq += 1
          return sql`WITH chunk AS (INSERT INTO extension_pulumi_state_deployment_logs (deployment_id, seq, text)
              VALUES (${row.deployment_id}, ${seq}, ${text}))
            UPDATE extension_pulumi_state_deployments SET log_bytes = log_bytes + ${Buffer.byteLength(text, "utf8")}
            WHERE deployment_id = ${row.deployment_id}`.pipe(Effect.asVoid)
        })

        // The heartbeat: store output, renew the lease, and stop the run on a cancel or a lost lease.
        const stop = yield* Deferred.make<"cancelled" | "lost">()
        const beat = Effect.gen(function* () {
          yield* flush
          const [lease] = yield* sql<{ cancel_requested: boolean }>`UPDATE extension_pulumi_state_deployments
            SET lease_until = now() + make_interval(secs => ${LEASE_SECONDS}), pid = ${pid}
            WHERE deployment_id = ${row.deployment_id} AND claimed_by = ${instance} AND status = 'running'
            RETURNING cancel_requested`
          if (lease === undefined) yield* Deferred.succeed(stop, "lost")
          else if (lease.cancel_requested) yield* Deferred.succeed(stop, "cancelled")
        }).pipe(Effect.catchAll((error) => Effect.logWarning("deployment heartbeat failed", error)))

        const outcome = yield* Effect.raceFirst(
          runDeployment(
            settings,
            {
              deploymentId: row.deployment_id,
              operation: row.operation,
              repoURL: row.repo_url,
              branch: row.branch,
              repoDir: row.repo_dir,
              environment,
              stackRef: `${row.org}/${row.project}/${row.stack}`,
              token
            },
            { output, started: (started) => (pid = started) }
          ).pipe(
            Effect.timeoutOption(settings.timeoutMs),
            Effect.map((done) =>
              Option.getOrElse(done, (): RunOutcome => ({ status: "failed", reason: `timed out after ${settings.timeoutMs / 1000} s` }))
            )
          ),
          Deferred.await(stop).pipe(Effect.map((why) => (why === "cancelled" ? ({ status: "cancelled" } as const) : ({ status: "lost" } as const))))
        ).pipe(Effect.raceFirst(Effect.forever(Effect.zipRight(Effect.sleep(HEARTBEAT_MS), beat))))

        const tail = bound.take(redactor.end())
        const closing =
          outcome.status === "cancelled"
            ? "\n[cancelled: the process group was stopped]\n"
            : outcome.status === "failed"
              ? `\n[failed: ${outcome.reason}]\n`
              : outcome.status === "succeeded"
                ? "\n[succeeded]\n"
                : ""
        if (tail !== "") pending.push(tail)
        if (closing !== "") pending.push(closing)
        yield* flush
        if (outcome.status === "lost") return
        yield* finish(row, outcome.status === "cancelled" ? { status: "cancelled", reason: "cancelled while running: its processes were stopped" } : {
          status: outcome.status,
          reason: outcome.status === "failed" ? outcome.reason : null
        })
      }).pipe(
        // The server stopping (or a defect) ends the run as failed, so it does not wait for its lease to run out.
        Effect.onExit((exit) =>
          Exit.isSuccess(exit)
            ? Effect.void
            : finish(row, { status: "failed", reason: Exit.isInterrupted(exit) ? "the server stopped while it ran" : "the runner failed unexpectedly" }).pipe(
                Effect.catchAll(() => Effect.void)
              )
        ),
        Effect.catchAllCause((cause) => Effect.logError("deployment run failed", cause)),
        Effect.ensuring(Effect.zipRight(Ref.update(active, (n) => n - 1), wake.nudge))
      )

    const look = Effect.gen(function* () {
      yield* endLost
      while ((yield* Ref.get(active)) < settings.concurrency) {
        const row = yield* claim
        if (row === undefined) break
        yield* Ref.update(active, (n) => n + 1)
        yield* FiberSet.run(runs, run(row))
      }
    }).pipe(Effect.catchAllCause((cause) => Effect.logWarning("deployment queue look failed", cause)))

    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(look, wake.wait(POLL_MS))))
  })
)
