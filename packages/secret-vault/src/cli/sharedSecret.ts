/**
 * `attestation shared-secret …`: one value for many machines (secret_vault
 * extension). Commands take the secret's name; the API wants its id, looked
 * up in the list.
 */
import {
  allPages,
  arg,
  cell,
  CliFailure,
  column,
  command,
  count,
  details,
  ExitCode,
  given,
  type Globals,
  group,
  limit,
  offset,
  option,
  pageFooter,
  progress,
  render,
  table,
  time,
  uuid
} from "@itl-attestation/cli/sdk"
import { Effect } from "effect"
import type { AccessGrant, AccessGrantList, RewrapResult, SharedSecret, SharedSecretList } from "../Secret.js"
import { asMachineIds } from "./machineId.js"
import { valueOption } from "./secret.js"
import { callVaultApi } from "./vault.js"

const nameArg = arg.text("name", { description: "The shared secret's name" })

const MACHINES = "0f6c2a5e-8d0b-4a57-9c1e-3b2f4d5a6e7f,5b8e0c7a-1f2d-4e3c-9a8b-7c6d5e4f3a2b"

/** The shared secret called `name`, or the one-line failure `no shared secret named <name>` (exit code 3, as a 404 would be). */
const byName = (globals: Globals, name: string) =>
  allPages((page) =>
    Effect.map(callVaultApi(globals, (api) => api.sharedSecrets.list({ urlParams: page })), (list) => ({ total: list.total, items: list.secrets }))
  ).pipe(
    Effect.flatMap((secrets) => {
      const found = secrets.find((s) => s.name === name)
      return found === undefined ? Effect.fail(new CliFailure({ message: `no shared secret named ${name}`, exitCode: ExitCode.notFound })) : Effect.succeed(found)
    })
  )

const secretColumns = [
  column<SharedSecret>("name", (s) => s.name),
  column<SharedSecret>("id", (s) => s.shared_secret_id),
  column<SharedSecret>("machines", (s) => String(s.authorized_machine_count)),
  column<SharedSecret>("created_at", (s) => time(s.created_at)),
  column<SharedSecret>("created_by", (s) => s.created_by),
  column<SharedSecret>("last_rotated_at", (s) => time(s.last_rotated_at)),
  column<SharedSecret>("description", (s) => cell(s.description))
]

const listTable = (list: SharedSecretList) => `${table(secretColumns, list.secrets)}\n${pageFooter(list.secrets.length, list.total, list.offset, "shared secret")}`

const secretDetails = (s: SharedSecret) =>
  details([
    ["shared_secret_id", s.shared_secret_id],
    ["name", s.name],
    ["description", cell(s.description)],
    ["encryption_key_id", s.encryption_key_id],
    ["authorized_machine_count", String(s.authorized_machine_count)],
    ["created_at", time(s.created_at)],
    ["created_by", s.created_by],
    ["last_rotated_at", time(s.last_rotated_at)]
  ])

const grantColumns = [
  column<AccessGrant>("machine_id", (g) => g.machine_id),
  column<AccessGrant>("hostname", (g) => g.hostname),
  column<AccessGrant>("granted_at", (g) => time(g.granted_at)),
  column<AccessGrant>("granted_by", (g) => g.granted_by),
  column<AccessGrant>("last_accessed_at", (g) => time(g.last_accessed_at)),
  column<AccessGrant>("access_count", (g) => String(g.access_count))
]

const grantsTable = (grants: AccessGrantList) => `${table(grantColumns, grants.access_grants)}\n${pageFooter(grants.access_grants.length, grants.total, grants.offset, "machine")}`

const rewrapLine = (r: RewrapResult) => `rewrapped: ${r.rewrapped}, remaining: ${r.remaining} (encryption key ${r.encryption_key_id})`

// Lower case, as the server returns them, so they compare with its answers.
const machinesOption = option.list("machines", {
  description: "Machine ids (UUIDs), comma separated",
  placeholder: "IDS",
  required: true,
  validate: uuid
})

const machineIds = (ids: ReadonlyArray<string>) => [...new Set(ids.map((id) => id.toLowerCase()))]

const create = command({
  name: "create",
  summary: "Store a shared secret (prints its metadata, never the value)",
  examples: [{ command: 'attestation shared-secret create ca-key --value "$(cat ca.key)" --description "fleet CA"', description: "Store a value many machines will read" }],
  args: { name: nameArg },
  options: {
    value: valueOption("The value (up to 64 KiB); it is never printed back"),
    description: option.text("description", { description: "What the secret is for (up to 1024 characters)" })
  },
  run: ({ args, options, globals }) =>
    Effect.gen(function* () {
      const created = yield* callVaultApi(globals, (api) =>
        api.sharedSecrets.create({ payload: { name: args.name, value: options.value, ...given("description", options.description) } })
      )
      yield* render(globals.output, created, secretDetails)
    })
})

const list = command({
  name: "list",
  summary: "List shared secrets (metadata only)",
  examples: [{ command: "attestation shared-secret list", description: "Every shared secret and how many machines may read it" }],
  options: { limit, offset },
  run: ({ options, globals }) =>
    Effect.gen(function* () {
      const secrets = yield* callVaultApi(globals, (api) => api.sharedSecrets.list({ urlParams: { limit: options.limit, offset: options.offset } }))
      yield* render(globals.output, secrets, listTable)
    })
})

const grant = command({
  name: "grant",
  summary: "Let machines read a shared secret; prints who has access",
  examples: [{ command: `attestation shared-secret grant ca-key --machines ${MACHINES}`, description: "Two machines may read ca-key" }],
  args: { name: nameArg },
  options: { machines: machinesOption },
  run: ({ args, options, globals }) =>
    Effect.gen(function* () {
      const secret = yield* byName(globals, args.name)
      const grants = yield* callVaultApi(globals, (api) =>
        api.sharedSecrets.grant({ path: { id: secret.shared_secret_id }, payload: { machine_ids: asMachineIds(machineIds(options.machines)) } })
      )
      yield* render(globals.output, grants, grantsTable, (g) => g.access_grants.map((a) => a.machine_id))
    })
})

const revoke = command({
  name: "revoke",
  summary: "Take machines' access to a shared secret away; prints who still has it",
  examples: [{ command: "attestation shared-secret revoke ca-key --machines 0f6c2a5e-8d0b-4a57-9c1e-3b2f4d5a6e7f", description: "One machine may no longer read ca-key" }],
  args: { name: nameArg },
  options: { machines: machinesOption },
  run: ({ args, options, globals }) =>
    Effect.gen(function* () {
      const name = args.name
      const machines = machineIds(options.machines)
      const secret = yield* byName(globals, name)
      // The server ignores machines without a grant; a mistyped id should not pass silently.
      const current = yield* allPages((page) =>
        Effect.map(
          callVaultApi(globals, (api) => api.sharedSecrets.access({ path: { id: secret.shared_secret_id }, urlParams: page })),
          (list) => ({ total: list.total, items: list.access_grants })
        )
      )
      const granted = new Set(current.map((g) => g.machine_id.toLowerCase()))
      const notGranted = machines.filter((id) => !granted.has(id))
      if (notGranted.length > 0) {
        const who = notGranted.length === 1 ? `machine ${notGranted[0]} has` : `machines ${notGranted.join(", ")} have`
        return yield* new CliFailure({ message: `not granted: ${who} no access to ${name}; nothing revoked` })
      }
      const grants = yield* callVaultApi(globals, (api) =>
        api.sharedSecrets.revoke({ path: { id: secret.shared_secret_id }, payload: { machine_ids: asMachineIds(machines) } })
      )
      yield* render(globals.output, grants, grantsTable, (g) => g.access_grants.map((a) => a.machine_id))
    })
})

const access = command({
  name: "access",
  summary: "Show which machines may read a shared secret",
  examples: [{ command: "attestation shared-secret access ca-key", description: "Who may read ca-key, and when each last did" }],
  args: { name: nameArg },
  options: { limit, offset },
  run: ({ args, options, globals }) =>
    Effect.gen(function* () {
      const secret = yield* byName(globals, args.name)
      const grants = yield* callVaultApi(globals, (api) =>
        api.sharedSecrets.access({ path: { id: secret.shared_secret_id }, urlParams: { limit: options.limit, offset: options.offset } })
      )
      yield* render(globals.output, grants, grantsTable, (g) => g.access_grants.map((a) => a.machine_id))
    })
})

const rotate = command({
  name: "rotate",
  summary: "Replace a shared secret's value (machines read the new one from now on)",
  examples: [{ command: 'attestation shared-secret rotate ca-key --value "$(cat new-ca.key)"', description: "Roll the fleet CA key" }],
  args: { name: nameArg },
  options: { value: valueOption("The new value (up to 64 KiB)") },
  run: ({ args, options, globals }) =>
    Effect.gen(function* () {
      const secret = yield* byName(globals, args.name)
      const rotated = yield* callVaultApi(globals, (api) => api.sharedSecrets.update({ path: { id: secret.shared_secret_id }, payload: { value: options.value } }))
      yield* render(globals.output, rotated, secretDetails)
    })
})

const remove = command({
  name: "delete",
  summary: "Delete a shared secret and every grant to it",
  examples: [{ command: "attestation shared-secret delete ca-key", description: "Remove ca-key for every machine" }],
  args: { name: nameArg },
  run: ({ args, globals }) =>
    Effect.gen(function* () {
      const name = args.name
      const secret = yield* byName(globals, name)
      yield* callVaultApi(globals, (api) => api.sharedSecrets.delete({ path: { id: secret.shared_secret_id } }))
      yield* render(globals.output, { name, shared_secret_id: secret.shared_secret_id, deleted: true }, () => `deleted shared secret ${name}`)
    })
})

const rewrap = command({
  name: "rewrap",
  summary: "Re-encrypt shared secrets still under a previous master key with the current one (admin)",
  examples: [{ command: "attestation shared-secret rewrap", description: "After rotating ITL_SHARED_SECRET_MASTER_KEY" }],
  run: ({ globals }) =>
    Effect.gen(function* () {
      // The server rewraps in batches: call again while it makes progress, showing it on a terminal.
      const shown = progress()
      let total = 0
      let result: RewrapResult
      do {
        result = yield* callVaultApi(globals, (api) => api.sharedSecrets.rewrap())
        total += result.rewrapped
        yield* shown.update(`rewrapped ${count(total, "shared secret")}, ${result.remaining} remaining…`)
      } while (result.rewrapped > 0 && result.remaining > 0)
      yield* shown.done
      yield* render(globals.output, { ...result, rewrapped: total }, rewrapLine, () => [])
    })
})

export const sharedSecretCommand = group({
  name: "shared-secret",
  summary: "Secrets shared by several machines (secret_vault extension)",
  commands: [create, list, grant, revoke, access, rotate, remove, rewrap],
  examples: [{ command: "attestation shared-secret list", description: "Every shared secret" }]
})
