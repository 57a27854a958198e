/**
 * `attestation secret …`: per-machine secrets of the secret_vault extension.
 * Operators store, list and delete them; values are never printed back.
 * `secret get` reads one as the machine would in the server's compatibility
 * mode (the EK fingerprint as the only credential); on the machine itself,
 * `attestation agent secret get` reads it bound to the TPM instead.
 */
import { arg, cell, CliFailure, column, command, details, group, limit, offset, option, pageFooter, quote, refusalFailure, render, table, time, uuid } from "@itl-attestation/cli/sdk"
import { Effect, Either } from "effect"
import { hkdfKeyForFingerprint } from "../delivery.js"
import type { SecretList, SecretMetadata } from "../Secret.js"
import { callVaultApi, openDelivery, vaultMachineApi } from "./vault.js"
import { asMachineId } from "./machineId.js"

const MACHINE = "0f6c2a5e-8d0b-4a57-9c1e-3b2f4d5a6e7f"

const machineIdArg = arg.text("machine-id", { description: "Machine id (UUID)", validate: uuid })

const secretColumns = [
  column<SecretMetadata>("secret_id", (s) => s.secret_id),
  column<SecretMetadata>("name", (s) => s.name),
  column<SecretMetadata>("created_at", (s) => time(s.created_at)),
  column<SecretMetadata>("created_by", (s) => s.created_by),
  column<SecretMetadata>("last_accessed_at", (s) => time(s.last_accessed_at)),
  column<SecretMetadata>("access_count", (s) => String(s.access_count))
]

const listTable = (list: SecretList) => `${table(secretColumns, list.secrets)}\n${pageFooter(list.secrets.length, list.total, list.offset, "secret")}`

const secretDetails = (s: SecretMetadata) =>
  details([
    ["secret_id", s.secret_id],
    ["machine_id", s.machine_id],
    ["name", s.name],
    ["key_id", s.key_id],
    ["created_at", time(s.created_at)],
    ["created_by", s.created_by],
    ["last_accessed_at", time(s.last_accessed_at)],
    ["access_count", cell(s.access_count)]
  ])

/** The secret's value: a credential option, so it is never shown, logged or echoed back. */
export const valueOption = (description: string) => option.text("value", { description, placeholder: "VALUE", required: true, secret: true })

const create = command({
  name: "create",
  summary: "Store a secret for one machine (prints its metadata, never the value)",
  examples: [{ command: `attestation secret create ${MACHINE} --name db-password --value "$DB_PASSWORD"`, description: "Store a database password for one machine" }],
  args: { machineId: machineIdArg },
  options: {
    name: option.text("name", { description: "The secret's name, unique per machine (A-Z a-z 0-9 . _ -, up to 128)", required: true }),
    value: valueOption("The secret's value (up to 64 KiB); it is never printed back")
  },
  run: ({ args, options, globals }) =>
    Effect.gen(function* () {
      const created = yield* callVaultApi(globals, (api) =>
        api.machineSecrets.create({ path: { id: asMachineId(args.machineId) }, payload: { name: options.name, value: options.value } })
      )
      yield* render(globals.output, created, secretDetails)
    })
})

const list = command({
  name: "list",
  summary: "List a machine's secrets (metadata only)",
  examples: [{ command: `attestation secret list ${MACHINE}`, description: "Names, creators and access counts of one machine's secrets" }],
  args: { machineId: machineIdArg },
  options: { limit, offset },
  run: ({ args, options, globals }) =>
    Effect.gen(function* () {
      const secrets = yield* callVaultApi(globals, (api) =>
        api.machineSecrets.list({ path: { id: asMachineId(args.machineId) }, urlParams: { limit: options.limit, offset: options.offset } })
      )
      yield* render(globals.output, secrets, listTable, (l) => l.secrets.map((s) => s.secret_id))
    })
})

/** `sha256:<64 hex>`, as the server prints fingerprints; the prefix may be left out. */
const FINGERPRINT = /^(?:sha256:)?([0-9a-f]{64})$/i

const fingerprintOption = option.text("ek-fingerprint", {
  description: "The machine's EK fingerprint (sha256:<64 hex>), its only credential in the compatibility mode",
  placeholder: "FINGERPRINT",
  required: true,
  validate: (value) => (FINGERPRINT.test(value.trim()) ? undefined : `expected sha256: and 64 hex digits, got ${quote(value)}`)
})

const get = command({
  name: "get",
  summary: "Read a machine secret as that machine, by its EK fingerprint (compatibility mode); prints the value",
  description:
    "Only for a server in ITL_MACHINE_AUTH=ek-fingerprint-header mode. On the machine itself, `attestation agent secret get` " +
    "reads the secret bound to its TPM instead.",
  examples: [{ command: `attestation secret get ${MACHINE} db-password --ek-fingerprint sha256:3f…`, description: "Read as the machine" }],
  args: { machineId: machineIdArg, name: arg.text("secret-name", { description: "The secret's name" }) },
  options: { ekFingerprint: fingerprintOption },
  run: ({ args, options, globals }) =>
    Effect.gen(function* () {
      const ekFingerprint = `sha256:${FINGERPRINT.exec(options.ekFingerprint.trim())![1]!.toLowerCase()}`
      const name = args.name
      // As the machine: the fingerprint header and no Authorization header
      // (an operator token there would be taken for a machine session).
      const answer = yield* vaultMachineApi.try(globals, { _tag: "EkFingerprint", fingerprint: ekFingerprint }, (client) =>
        client.machineSecretRead.read({ path: { id: asMachineId(args.machineId), name }, urlParams: { scheme: "hkdf-ek-v1" } })
      )
      if (Either.isLeft(answer)) {
        const refusal = answer.left
        const hint = /^missing machine credentials/.test(refusal.message)
          ? "; the server does not accept X-EK-Fingerprint alone (ITL_MACHINE_AUTH=ek-fingerprint-header): run `attestation agent secret get` on the machine"
          : ""
        return yield* refusalFailure(refusal, hint)
      }
      const delivered = answer.right
      if (delivered.scheme !== "hkdf-ek-v1") {
        return yield* new CliFailure({ message: `the server delivered ${name} as ${delivered.scheme}, not hkdf-ek-v1` })
      }
      const key = hkdfKeyForFingerprint(ekFingerprint)
      const value = yield* openDelivery(key, { ciphertext: delivered.encrypted_value, nonce: delivered.nonce, tag: delivered.tag }, undefined, `secret ${name}`)
      yield* render(globals.output, { name, value }, (s) => s.value, () => [])
    })
})

const remove = command({
  name: "delete",
  summary: "Delete a machine secret",
  examples: [{ command: "attestation secret delete 7d1e9f3a-2b4c-4d5e-8f6a-1b2c3d4e5f6a", description: "Delete by the id `secret list` shows" }],
  args: { id: arg.text("secret-id", { description: "The secret's id (UUID), from `secret list`", validate: uuid }) },
  run: ({ args, globals }) =>
    Effect.gen(function* () {
      yield* callVaultApi(globals, (api) => api.machineSecrets.delete({ path: { id: args.id } }))
      // The API answers 204 with no body; say what happened in every format.
      yield* render(globals.output, { id: args.id, deleted: true }, () => `deleted secret ${args.id}`)
    })
})

export const secretCommand = group({
  name: "secret",
  summary: "Per-machine secrets (secret_vault extension)",
  commands: [create, list, get, remove],
  examples: [{ command: `attestation secret list ${MACHINE}`, description: "One machine's secrets" }]
})
