/**
 * Shared secrets: one value, many machines. Encrypted under the shared-secret
 * key (AAD binds the row), readable by machines holding a grant, rotatable,
 * and movable to a new master key by `rewrap`.
 */
import { SqlClient } from "@effect/sql"
import {
  actorOf,
  authorized,
  AuditedChanges,
  BadRequest,
  type ChangeEvent,
  Conflict,
  CurrentMachine,
  Forbidden,
  MachineDirectory,
  NotFound,
  sqlDefect
} from "@itl-attestation/core"
import { DEFAULT_LIMIT, type MachineId, type Page } from "@itl-attestation/core"
import { Effect } from "effect"
import * as crypto from "node:crypto"
import { checkValueSize } from "./MachineSecrets.js"
import { SecretsAdmin, SecretsRead, SecretsWrite } from "./scopes.js"
import { AccessGrant, AccessGrantList, RewrapResult, SharedSecret, SharedSecretList, SharedSecretValue } from "./Secret.js"
import { gcmOpen, gcmSeal } from "./gcm.js"
import { SharedKeyring } from "./SharedKeyring.js"
import { traced } from "@itl-attestation/core"

interface SharedRow {
  readonly shared_secret_id: string
  readonly name: string
  readonly encrypted_value: Buffer
  readonly nonce: Buffer
  readonly tag: Buffer
  readonly encryption_key_id: string
  readonly created_at: Date
  readonly created_by: string
  readonly last_rotated_at: Date | null
  readonly description: string | null
  readonly authorized_machine_count?: number
}

const aadOf = (id: string) => `extension_shared_secrets:${id}`
const REWRAP_BATCH = 100

const toView = (row: SharedRow) =>
  new SharedSecret({
    shared_secret_id: row.shared_secret_id,
    name: row.name,
    encryption_key_id: row.encryption_key_id,
    created_at: row.created_at.toISOString(),
    created_by: row.created_by,
    last_rotated_at: row.last_rotated_at?.toISOString() ?? null,
    description: row.description,
    authorized_machine_count: row.authorized_machine_count ?? 0
  })

type SharedEventType =
  | "shared_secret.created"
  | "shared_secret.rotated"
  | "shared_secret.deleted"
  | "shared_secret.access_granted"
  | "shared_secret.access_revoked"
  | "shared_secret.accessed"

const event = (
  type: SharedEventType,
  row: { shared_secret_id: string; name: string },
  extra: Record<string, unknown> = {},
  machineId?: string
): ChangeEvent => ({ type, machineId, data: { shared_secret_id: row.shared_secret_id, name: row.name, ...extra } })

export class SharedSecrets extends Effect.Service<SharedSecrets>()("@itl-attestation/secret-vault/SharedSecrets", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const keys = yield* SharedKeyring
    const machines = yield* MachineDirectory
    const changes = yield* AuditedChanges

    const selectWithCount = sql`SELECT s.*, (SELECT count(*)::int FROM extension_shared_secret_access a
      WHERE a.shared_secret_id = s.shared_secret_id) AS authorized_machine_count FROM extension_shared_secrets s`

    const findOrFail = (id: string) =>
      Effect.flatMap(sql<SharedRow>`${selectWithCount} WHERE s.shared_secret_id = ${id}`, ([row]) =>
        row === undefined ? Effect.fail(new NotFound({ message: `shared secret ${id} not found` })) : Effect.succeed(row)
      )

    const seal = (id: string, value: string) => {
      const sealed = gcmSeal(keys.current.key, Buffer.from(value, "utf8"), aadOf(id))
      return { ...sealed, keyId: keys.current.keyId }
    }

    const open = (row: SharedRow) => {
      const key = keys.keyFor(row.encryption_key_id)
      const value = key && gcmOpen(key.key, { nonce: row.nonce, ciphertext: row.encrypted_value, tag: row.tag }, aadOf(row.shared_secret_id))
      // The start-up check guarantees every stored key id is configured; failing here is a defect.
      return value === undefined ? Effect.die(new Error(`shared secret ${row.shared_secret_id} does not open`)) : Effect.succeed(value)
    }

    const create = (name: string, value: string, description: string | undefined) =>
      Effect.gen(function* () {
        const operator = yield* authorized(SecretsWrite)
        yield* checkValueSize(value)
        const id = crypto.randomUUID()
        const sealed = seal(id, value)
        const row = yield* changes.run(
          actorOf(operator),
          Effect.gen(function* () {
            // The unique name decides, not a prior lookup (concurrent creates of one name).
            const [row] = yield* sql<SharedRow>`INSERT INTO extension_shared_secrets
                (shared_secret_id, name, encrypted_value, nonce, tag, encryption_key_id, created_by, description)
              VALUES (${id}, ${name}, ${sealed.ciphertext}, ${sealed.nonce}, ${sealed.tag}, ${sealed.keyId}, ${operator.name}, ${description ?? null})
              ON CONFLICT (name) DO NOTHING
              RETURNING *`
            if (row === undefined) return yield* new Conflict({ message: `a shared secret named ${name} already exists`, details: { field: "name" } })
            return row
          }),
          (row) => ({
            action: "shared_secret.created",
            targetType: "shared_secret",
            targetId: id,
            details: { name },
            events: [event("shared_secret.created", row, { created_by: operator.name })]
          })
        )
        return toView(row)
      }).pipe(sqlDefect, traced("SharedSecrets.create"))

    const list = (page: Page) =>
      Effect.gen(function* () {
        yield* authorized(SecretsRead)
        const rows = yield* sql<SharedRow>`${selectWithCount} ORDER BY s.name LIMIT ${page.limit} OFFSET ${page.offset}`
        const [count] = yield* sql<{ total: number }>`SELECT count(*)::int AS total FROM extension_shared_secrets`
        return new SharedSecretList({ secrets: rows.map(toView), total: count!.total, ...page })
      }).pipe(sqlDefect, traced("SharedSecrets.list"))

    const get = (id: string) =>
      Effect.gen(function* () {
        yield* authorized(SecretsRead)
        return toView(yield* findOrFail(id))
      }).pipe(sqlDefect, traced("SharedSecrets.get"))

    const update = (id: string, update: { description?: string | undefined; value?: string | undefined }) =>
      Effect.gen(function* () {
        const operator = yield* authorized(SecretsWrite)
        if (update.description === undefined && update.value === undefined) {
          return yield* new BadRequest({ message: "description or value: send at least one of them", details: { fields: ["description", "value"] } })
        }
        if (update.value !== undefined) yield* checkValueSize(update.value)
        const sealed = update.value === undefined ? undefined : seal(id, update.value)
        yield* changes.run(
          actorOf(operator),
          Effect.gen(function* () {
            const [row] = yield* sql<SharedRow>`UPDATE extension_shared_secrets SET
                description = ${update.description === undefined ? sql`description` : update.description},
                ${sealed === undefined ? sql`` : sql`encrypted_value = ${sealed.ciphertext}, nonce = ${sealed.nonce}, tag = ${sealed.tag},
                  encryption_key_id = ${sealed.keyId}, last_rotated_at = now(),`}
                shared_secret_id = shared_secret_id
              WHERE shared_secret_id = ${id} RETURNING *`
            if (row === undefined) return yield* new NotFound({ message: `shared secret ${id} not found` })
            return row
          }),
          (row) => ({
            action: sealed ? "shared_secret.rotated" : "shared_secret.updated",
            targetType: "shared_secret",
            targetId: id,
            details: { name: row.name, ...(update.description !== undefined ? { description_changed: true } : {}) },
            events: sealed ? [event("shared_secret.rotated", row, { rotated_by: operator.name })] : []
          })
        )
        return toView(yield* findOrFail(id))
      }).pipe(sqlDefect, traced("SharedSecrets.update"))

    const remove = (id: string) =>
      Effect.gen(function* () {
        const operator = yield* authorized(SecretsWrite)
        yield* changes.run(
          actorOf(operator),
          Effect.flatMap(sql<SharedRow>`DELETE FROM extension_shared_secrets WHERE shared_secret_id = ${id} RETURNING *`, ([row]) =>
            row === undefined ? Effect.fail(new NotFound({ message: `shared secret ${id} not found` })) : Effect.succeed(row)
          ),
          (row) => ({
            action: "shared_secret.deleted",
            targetType: "shared_secret",
            targetId: id,
            details: { name: row.name },
            events: [event("shared_secret.deleted", row, { deleted_by: operator.name })]
          })
        )
      }).pipe(sqlDefect, traced("SharedSecrets.delete"))

    /** Every id must name a machine; the answer names those that do not. */
    const checkMachines = (ids: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        const unknown: Array<string> = []
        for (const id of new Set(ids)) if (!(yield* machines.exists(id))) unknown.push(id)
        if (unknown.length > 0) {
          return yield* new NotFound({ message: `unknown machine ids: ${unknown.join(", ")}`, details: { machine_ids: unknown } })
        }
      })

    const grant = (id: string, machineIds: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        const operator = yield* authorized(SecretsWrite)
        const row = yield* findOrFail(id)
        yield* checkMachines(machineIds)
        yield* changes.run(
          actorOf(operator),
          sql<{ machine_id: string }>`INSERT INTO extension_shared_secret_access (shared_secret_id, machine_id, granted_by)
            SELECT ${id}, m, ${operator.name} FROM unnest(${[...new Set(machineIds)]}::uuid[]) AS m
            ON CONFLICT DO NOTHING RETURNING machine_id`,
          (granted) => {
            const added = granted.map((g) => g.machine_id)
            if (added.length === 0) return undefined
            return {
              action: "shared_secret.access_granted",
              targetType: "shared_secret",
              targetId: id,
              details: { name: row.name, machine_ids: added },
              events: added.map((machineId) => event("shared_secret.access_granted", row, { granted_by: operator.name }, machineId))
            }
          }
        )
        return yield* accessPage(id, firstPage)
      }).pipe(sqlDefect, traced("SharedSecrets.grant"))

    const revoke = (id: string, machineIds: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        const operator = yield* authorized(SecretsWrite)
        const row = yield* findOrFail(id)
        yield* changes.run(
          actorOf(operator),
          sql<{ machine_id: string }>`DELETE FROM extension_shared_secret_access
            WHERE shared_secret_id = ${id} AND machine_id = ANY(${[...new Set(machineIds)]}::uuid[]) RETURNING machine_id`,
          (revoked) => {
            const removed = revoked.map((r) => r.machine_id)
            if (removed.length === 0) return undefined
            return {
              action: "shared_secret.access_revoked",
              targetType: "shared_secret",
              targetId: id,
              details: { name: row.name, machine_ids: removed },
              events: removed.map((machineId) => event("shared_secret.access_revoked", row, { revoked_by: operator.name }, machineId))
            }
          }
        )
        return yield* accessPage(id, firstPage)
      }).pipe(sqlDefect, traced("SharedSecrets.revoke"))

    /** What grant and revoke answer with: the first page of the access list (its `total` counts them all). */
    const firstPage: Page = { limit: DEFAULT_LIMIT, offset: 0 }

    const accessPage = (id: string, page: Page) =>
      Effect.gen(function* () {
        yield* findOrFail(id)
        const rows = yield* sql<{ machine_id: MachineId; hostname: string; granted_at: Date; granted_by: string; last_accessed_at: Date | null; access_count: number }>`
          SELECT a.machine_id, m.hostname, a.granted_at, a.granted_by, a.last_accessed_at, a.access_count
          FROM extension_shared_secret_access a JOIN machines m ON m.id = a.machine_id
          WHERE a.shared_secret_id = ${id} ORDER BY a.granted_at, a.machine_id LIMIT ${page.limit} OFFSET ${page.offset}`
        const [count] = yield* sql<{ total: number }>`SELECT count(*)::int AS total FROM extension_shared_secret_access a
          JOIN machines m ON m.id = a.machine_id WHERE a.shared_secret_id = ${id}`
        const grants = rows.map((r) => new AccessGrant({ ...r, granted_at: r.granted_at.toISOString(), last_accessed_at: r.last_accessed_at?.toISOString() ?? null }))
        return new AccessGrantList({ access_grants: grants, total: count!.total, ...page })
      }).pipe(sqlDefect)

    const accessList = (id: string, page: Page) => Effect.zipRight(authorized(SecretsRead), accessPage(id, page))

    /** For a machine holding a grant: 404 for an unknown name, 403 without a grant. */
    const readByName = (name: string) =>
      Effect.gen(function* () {
        const machine = yield* CurrentMachine
        const result = yield* changes.run(
          { name: machine.ek_fingerprint, kind: "machine" },
          Effect.gen(function* () {
            const [row] = yield* sql<SharedRow>`SELECT * FROM extension_shared_secrets WHERE name = ${name}`
            if (row === undefined) return yield* new NotFound({ message: `no shared secret named ${name}` })
            const [access] = yield* sql<{ last_accessed_at: Date }>`UPDATE extension_shared_secret_access
              SET access_count = access_count + 1, last_accessed_at = now()
              WHERE shared_secret_id = ${row.shared_secret_id} AND machine_id = ${machine.id} RETURNING last_accessed_at`
            if (access === undefined) return yield* new Forbidden({ error: "not_granted", message: `this machine has no access to ${name}` })
            return { row, accessedAt: access.last_accessed_at }
          }),
          ({ row }) => ({
            action: "shared_secret.accessed",
            targetType: "shared_secret",
            targetId: row.shared_secret_id,
            details: { name, machine_id: machine.id },
            events: [event("shared_secret.accessed", row, {}, machine.id)]
          })
        )
        const value = yield* open(result.row)
        return new SharedSecretValue({ name, value: value.toString("utf8"), accessed_at: result.accessedAt.toISOString() })
      }).pipe(sqlDefect, traced("SharedSecrets.readByName"))

    /**
     * Moves every row still under another key to the current key, in batches,
     * each row in its own short transaction: safe to interrupt and to run again.
     */
    const rewrap = Effect.gen(function* () {
      const operator = yield* authorized(SecretsAdmin)
      let rewrapped = 0
      for (;;) {
        const batch = yield* sql<SharedRow>`SELECT * FROM extension_shared_secrets
          WHERE encryption_key_id <> ${keys.current.keyId} ORDER BY shared_secret_id LIMIT ${REWRAP_BATCH}`
        if (batch.length === 0) break
        for (const row of batch) {
          const value = yield* open(row)
          const sealed = seal(row.shared_secret_id, value.toString("utf8"))
          const updated = yield* sql`UPDATE extension_shared_secrets SET encrypted_value = ${sealed.ciphertext}, nonce = ${sealed.nonce},
              tag = ${sealed.tag}, encryption_key_id = ${sealed.keyId}
            WHERE shared_secret_id = ${row.shared_secret_id} AND encryption_key_id = ${row.encryption_key_id} RETURNING 1`
          rewrapped += updated.length
        }
      }
      if (rewrapped > 0) {
        yield* changes.run(actorOf(operator), Effect.void, () => ({
          action: "shared_secret.rewrapped",
          targetType: "shared_secret",
          targetId: null,
          details: { rows: rewrapped, encryption_key_id: keys.current.keyId }
        }))
      }
      const [left] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM extension_shared_secrets WHERE encryption_key_id <> ${keys.current.keyId}`
      return new RewrapResult({ rewrapped, remaining: left!.n, encryption_key_id: keys.current.keyId })
    }).pipe(sqlDefect, traced("SharedSecrets.rewrap"))

    return { create, list, get, update, remove, grant, revoke, accessList, readByName, rewrap } as const
  })
}) {}
