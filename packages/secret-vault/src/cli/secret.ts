/**
 * `attestation secret …`: per-machine secrets of the secret_vault extension.
 * Operators store, list and delete them; values are never printed back.
 * `secret get` reads one as the machine would in the server's compatibility
 * mode (the EK fingerprint as the only credential); on the machine itself,
 * `attestation agent secret get` reads it bound to the TPM instead.
 */
import { Args, Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { attestation as root, cell, CliFailure, column, details, group, limit, offset, pageFooter, refusalLine, render, table, time } from "@itl-attestation/cli/sdk"
import { Effect, Either, Redacted } from "effect"
import { hkdfKeyForFingerprint } from "../delivery.js"
import type { SecretList, SecretMetadata } from "../Secret.js"
import { callVaultApi, openDelivery, vaultMachineApi } from "./vault.js"

const machineIdArg = Args.text({ name: "machine-id" }).pipe(Args.withDescription("Machine id (UUID)"))

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

/** The secret's value: redacted, so it cannot end up in a log or an error message by accident. */
export const valueOption = (description: string) =>
  Options.redacted("value").pipe(Options.withPseudoName("VALUE"), Options.withDescription(description))

const create = Command.make(
  "create",
  {
    machineId: machineIdArg,
    name: Options.text("name").pipe(Options.withDescription("The secret's name, unique per machine (A-Z a-z 0-9 . _ -, up to 128)")),
    value: valueOption("The secret's value (up to 64 KiB); it is never printed back")
  },
  ({ machineId, name, value }) =>
    Effect.gen(function* () {
      const globals = yield* root
      const created = yield* callVaultApi(globals, (api) =>
        api.machineSecrets.create({ path: { id: machineId }, payload: { name, value: Redacted.value(value) } })
      )
      yield* render(globals.output, created, secretDetails)
    })
).pipe(Command.withDescription("Store a secret for one machine (prints its metadata, never the value)"))

const list = Command.make("list", { machineId: machineIdArg, limit, offset }, ({ machineId, limit, offset }) =>
  Effect.gen(function* () {
    const globals = yield* root
    const secrets = yield* callVaultApi(globals, (api) => api.machineSecrets.list({ path: { id: machineId }, urlParams: { limit, offset } }))
    yield* render(globals.output, secrets, listTable)
  })
).pipe(Command.withDescription("List a machine's secrets (metadata only)"))

/** `sha256:<64 hex>`, as the server prints fingerprints; the prefix may be left out. */
const fingerprintOption = Options.text("ek-fingerprint").pipe(
  Options.withPseudoName("FINGERPRINT"),
  Options.withDescription("The machine's EK fingerprint (sha256:<64 hex>), its only credential in the compatibility mode"),
  Options.mapEffect((value) => {
    const match = /^(?:sha256:)?([0-9a-f]{64})$/i.exec(value.trim())
    return match === null
      ? Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--ek-fingerprint must be sha256: and 64 hex digits, got '${value}'`)))
      : Effect.succeed(`sha256:${match[1]!.toLowerCase()}`)
  })
)

const get = Command.make(
  "get",
  {
    machineId: machineIdArg,
    name: Args.text({ name: "secret-name" }).pipe(Args.withDescription("The secret's name")),
    ekFingerprint: fingerprintOption
  },
  ({ machineId, name, ekFingerprint }) =>
    Effect.gen(function* () {
      const globals = yield* root
      // As the machine: the fingerprint header and no Authorization header
      // (an operator token there would be taken for a machine session).
      const answer = yield* vaultMachineApi.try(globals.url, { _tag: "EkFingerprint", fingerprint: ekFingerprint }, (client) =>
        client.machineSecretRead.read({ path: { id: machineId, name }, urlParams: { scheme: "hkdf-ek-v1" } })
      )
      if (Either.isLeft(answer)) {
        const refusal = answer.left
        const hint = /^missing machine credentials/.test(refusal.message)
          ? "; the server does not accept X-EK-Fingerprint alone (ITL_MACHINE_AUTH=ek-fingerprint-header): run `attestation agent secret get` on the machine"
          : ""
        return yield* new CliFailure({ message: `${refusalLine(refusal)}${hint}` })
      }
      const delivered = answer.right
      if (delivered.scheme !== "hkdf-ek-v1") {
        return yield* new CliFailure({ message: `the server delivered ${name} as ${delivered.scheme}, not hkdf-ek-v1` })
      }
      const key = hkdfKeyForFingerprint(ekFingerprint)
      const value = yield* openDelivery(key, { ciphertext: delivered.encrypted_value, nonce: delivered.nonce, tag: delivered.tag }, undefined, `secret ${name}`)
      yield* render(globals.output, { name, value }, (s) => s.value)
    })
).pipe(
  Command.withDescription(
    "Read a machine secret as that machine, by its EK fingerprint (server in ITL_MACHINE_AUTH=ek-fingerprint-header mode); prints the value"
  )
)

const remove = Command.make(
  "delete",
  { id: Args.text({ name: "secret-id" }).pipe(Args.withDescription("The secret's id (UUID), from `secret list`")) },
  ({ id }) =>
    Effect.gen(function* () {
      const globals = yield* root
      yield* callVaultApi(globals, (api) => api.machineSecrets.delete({ path: { id } }))
      // The API answers 204 with no body; say what happened in either format.
      yield* render(globals.output, { id, deleted: true }, () => `deleted secret ${id}`)
    })
).pipe(Command.withDescription("Delete a machine secret"))

export const secretCommand = group("secret", "Per-machine secrets (secret_vault extension)", [create, list, get, remove])
