/**
 * Per-machine secrets: kept under the core keyring (AAD binds secret id,
 * machine id and name), delivered only to that machine, encrypted so that only
 * its TPM can open them.
 */
import { SqlClient } from "@effect/sql"
import {
  actorOf,
  authorized,
  AuditedChanges,
  type ChangeEvent,
  Conflict,
  CurrentMachine,
  Keyring,
  MachineDirectory,
  MasterKeyRewrap,
  NotFound,
  PayloadTooLarge,
  sqlDefect
} from "@itl-attestation/core"
import type { MachineId } from "@itl-attestation/core"
import type { Page } from "@itl-attestation/core"
import { Effect, Option } from "effect"
import * as crypto from "node:crypto"
import { sealForFingerprint, sealForTpm } from "./delivery.js"
import { SecretsRead, SecretsWrite } from "./scopes.js"
import { type DeliveryScheme, FingerprintBoundSecret, MAX_VALUE_BYTES, SecretList, SecretMetadata, TpmBoundSecret } from "./Secret.js"
import { traced } from "@itl-attestation/core"

interface SecretRow {
  readonly secret_id: string
  readonly machine_id: MachineId
  readonly name: string
  readonly encrypted_value: Buffer
  readonly nonce: Buffer
  readonly tag: Buffer
  readonly key_id: string
  readonly created_at: Date
  readonly created_by: string
  readonly last_accessed_at: Date | null
  readonly access_count: number
}

const aadOf = (row: { secret_id: string; machine_id: string; name: string }) =>
  `extension_secrets:${row.secret_id}:${row.machine_id}:${row.name}`

/** Where machine secrets are sealed, for the master key rewrap (`POST /api/v1/keyring/rewrap`). */
export const machineSecretsSealed = {
  owner: "secret_vault",
  table: "extension_secrets",
  id: "secret_id",
  keyId: "key_id",
  nonce: "nonce",
  ciphertext: "encrypted_value",
  tag: "tag",
  aad: (row: Record<string, unknown>) => aadOf(row as unknown as SecretRow)
} as const

const toMetadata = (row: SecretRow) =>
  new SecretMetadata({
    secret_id: row.secret_id,
    machine_id: row.machine_id,
    name: row.name,
    key_id: row.key_id,
    created_at: row.created_at.toISOString(),
    created_by: row.created_by,
    last_accessed_at: row.last_accessed_at?.toISOString() ?? null,
    access_count: row.access_count
  })

export const checkValueSize = (value: string) =>
  Buffer.byteLength(value, "utf8") > MAX_VALUE_BYTES
    ? Effect.fail(new PayloadTooLarge({ message: `value: must be at most ${MAX_VALUE_BYTES} bytes`, details: { field: "value" } }))
    : Effect.void

const event = (type: "secret.created" | "secret.accessed" | "secret.deleted", row: SecretRow, extra: Record<string, unknown> = {}): ChangeEvent => ({
  type,
  machineId: row.machine_id,
  data: { secret_id: row.secret_id, machine_id: row.machine_id, name: row.name, ...extra }
})

export class MachineSecrets extends Effect.Service<MachineSecrets>()("@itl-attestation/secret-vault/MachineSecrets", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const keyring = yield* Keyring
    const machines = yield* MachineDirectory
    const changes = yield* AuditedChanges
    yield* Effect.flatMap(MasterKeyRewrap, (rewrap) => rewrap.register(machineSecretsSealed))

    const machineOrFail = (id: string) =>
      Effect.flatMap(machines.enrolledKeys(id), (keys) =>
        Option.match(keys, { onNone: () => Effect.fail(new NotFound({ message: `machine ${id} not found` })), onSome: Effect.succeed })
      )

    const create = (machineId: string, name: string, value: string) =>
      Effect.gen(function* () {
        const operator = yield* authorized(SecretsWrite)
        yield* checkValueSize(value)
        yield* machineOrFail(machineId)
        const secretId = crypto.randomUUID()
        const sealed = keyring.seal(Buffer.from(value, "utf8"), aadOf({ secret_id: secretId, machine_id: machineId, name }))
        const row = yield* changes.run(
          actorOf(operator),
          Effect.gen(function* () {
            // The unique (machine_id, name) decides, not a prior lookup: a concurrent
            // create of the same name commits first or waits, and this one gets no row.
            const [row] = yield* sql<SecretRow>`INSERT INTO extension_secrets
                (secret_id, machine_id, name, encrypted_value, nonce, tag, key_id, created_by)
              VALUES (${secretId}, ${machineId}, ${name}, ${sealed.ciphertext}, ${sealed.nonce}, ${sealed.tag}, ${sealed.keyId}, ${operator.name})
              ON CONFLICT (machine_id, name) DO NOTHING
              RETURNING *`
            if (row === undefined) {
              return yield* new Conflict({ message: `machine ${machineId} already has a secret named ${name}`, details: { field: "name" } })
            }
            return row
          }),
          (row) => ({
            action: "secret.created",
            targetType: "secret",
            targetId: secretId,
            details: { machine_id: machineId, name },
            events: [event("secret.created", row, { created_by: operator.name })]
          })
        )
        return toMetadata(row)
      }).pipe(sqlDefect, traced("MachineSecrets.create"))

    const list = (machineId: string, page: Page) =>
      Effect.gen(function* () {
        yield* authorized(SecretsRead)
        yield* machineOrFail(machineId)
        const rows = yield* sql<SecretRow>`SELECT * FROM extension_secrets WHERE machine_id = ${machineId}
          ORDER BY name LIMIT ${page.limit} OFFSET ${page.offset}`
        const [count] = yield* sql<{ total: number }>`SELECT count(*)::int AS total FROM extension_secrets WHERE machine_id = ${machineId}`
        return new SecretList({ secrets: rows.map(toMetadata), total: count!.total, ...page })
      }).pipe(sqlDefect, traced("MachineSecrets.list"))

    /** For the authenticated machine only; another machine learns nothing, not even that the secret exists. */
    const read = (machineId: string, name: string, scheme: DeliveryScheme) =>
      Effect.gen(function* () {
        const current = yield* CurrentMachine
        const notFound = new NotFound({ message: `no secret named ${name} for this machine` })
        if (current.id !== machineId) return yield* notFound
        const machine = yield* machineOrFail(machineId)
        if (scheme === "tpm2-credential-v1" && (Option.isNone(machine.ekPublicArea) || Option.isNone(machine.akName))) {
          return yield* new Conflict({
            error: "not_enrolled",
            message: "this machine has no activated AK, so a TPM-bound delivery is impossible; enroll it, or use ?scheme=hkdf-ek-v1"
          })
        }
        const row = yield* changes.run(
          { name: machine.ekFingerprint, kind: "machine" },
          Effect.gen(function* () {
            const [row] = yield* sql<SecretRow>`UPDATE extension_secrets
              SET access_count = access_count + 1, last_accessed_at = now()
              WHERE machine_id = ${machineId} AND name = ${name} RETURNING *`
            if (row === undefined) return yield* notFound
            return row
          }),
          (row) => ({
            action: "secret.accessed",
            targetType: "secret",
            targetId: row.secret_id,
            details: { machine_id: machineId, name, scheme },
            events: [event("secret.accessed", row, { scheme })]
          })
        )
        const value = yield* keyring.open({ keyId: row.key_id, nonce: row.nonce, ciphertext: row.encrypted_value, tag: row.tag }, aadOf(row)).pipe(Effect.orDie)
        return scheme === "hkdf-ek-v1"
          ? new FingerprintBoundSecret({ secret_id: row.secret_id, name, scheme, ...sealForFingerprint(machine.ekFingerprint, value) })
          : new TpmBoundSecret({
              secret_id: row.secret_id,
              name,
              scheme,
              ...sealForTpm({ ekPublicArea: Buffer.from(Option.getOrThrow(machine.ekPublicArea)), akName: Buffer.from(Option.getOrThrow(machine.akName)) }, name, value)
            })
      }).pipe(sqlDefect, traced("MachineSecrets.read"))

    const remove = (secretId: string) =>
      Effect.gen(function* () {
        const operator = yield* authorized(SecretsWrite)
        yield* changes.run(
          actorOf(operator),
          Effect.flatMap(sql<SecretRow>`DELETE FROM extension_secrets WHERE secret_id = ${secretId} RETURNING *`, ([row]) =>
            row === undefined ? Effect.fail(new NotFound({ message: `secret ${secretId} not found` })) : Effect.succeed(row)
          ),
          (row) => ({
            action: "secret.deleted",
            targetType: "secret",
            targetId: secretId,
            details: { machine_id: row.machine_id, name: row.name },
            events: [event("secret.deleted", row, { deleted_by: operator.name })]
          })
        )
      }).pipe(sqlDefect, traced("MachineSecrets.delete"))

    return { create, list, read, remove } as const
  })
}) {}
