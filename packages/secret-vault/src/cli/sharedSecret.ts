/**
 * `attestation shared-secret …`: one value for many machines (secret_vault
 * extension). Commands take the secret's name; the API wants its id, looked
 * up in the list.
 */
import { Args, Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import {
  allPages,
  attestation as root,
  cell,
  CliFailure,
  column,
  details,
  given,
  type Globals,
  group,
  limit,
  offset,
  pageFooter,
  render,
  table,
  time
} from "@itl-attestation/cli/sdk"
import { Effect, Redacted } from "effect"
import type { AccessGrant, AccessGrantList, RewrapResult, SharedSecret, SharedSecretList } from "../Secret.js"
import { valueOption } from "./secret.js"
import { callVaultApi } from "./vault.js"

const nameArg = Args.text({ name: "name" }).pipe(Args.withDescription("The shared secret's name"))

/** The shared secret called `name`, or the one-line failure `no shared secret named <name>`. */
const byName = (globals: Globals, name: string) =>
  allPages((page) =>
    Effect.map(callVaultApi(globals, (api) => api.sharedSecrets.list({ urlParams: page })), (list) => ({ total: list.total, items: list.secrets }))
  ).pipe(
    Effect.flatMap((secrets) => {
      const found = secrets.find((s) => s.name === name)
      return found === undefined ? Effect.fail(new CliFailure({ message: `no shared secret named ${name}` })) : Effect.succeed(found)
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

const machinesOption = Options.text("machines").pipe(
  Options.withPseudoName("ID,…"),
  Options.withDescription("Machine ids (UUIDs), comma separated"),
  Options.mapEffect((value) => {
    // Lower case, as the server returns them, so they compare with its answers.
    const ids = [...new Set(value.split(",").map((id) => id.trim().toLowerCase()).filter((id) => id !== ""))]
    return ids.length === 0
      ? Effect.fail(ValidationError.invalidValue(HelpDoc.p("--machines needs at least one machine id")))
      : Effect.succeed(ids)
  })
)

const create = Command.make(
  "create",
  {
    name: nameArg,
    value: valueOption("The value (up to 64 KiB); it is never printed back"),
    description: Options.text("description").pipe(Options.withDescription("What the secret is for (up to 1024 characters)"), Options.optional)
  },
  ({ name, value, description }) =>
    Effect.gen(function* () {
      const globals = yield* root
      const created = yield* callVaultApi(globals, (api) =>
        api.sharedSecrets.create({ payload: { name, value: Redacted.value(value), ...given("description", description) } })
      )
      yield* render(globals.output, created, secretDetails)
    })
).pipe(Command.withDescription("Store a shared secret (prints its metadata, never the value)"))

const list = Command.make("list", { limit, offset }, (page) =>
  Effect.gen(function* () {
    const globals = yield* root
    const secrets = yield* callVaultApi(globals, (api) => api.sharedSecrets.list({ urlParams: page }))
    yield* render(globals.output, secrets, listTable)
  })
).pipe(Command.withDescription("List shared secrets (metadata only)"))

const grant = Command.make("grant", { name: nameArg, machines: machinesOption }, ({ name, machines }) =>
  Effect.gen(function* () {
    const globals = yield* root
    const secret = yield* byName(globals, name)
    const grants = yield* callVaultApi(globals, (api) =>
      api.sharedSecrets.grant({ path: { id: secret.shared_secret_id }, payload: { machine_ids: machines } })
    )
    yield* render(globals.output, grants, grantsTable)
  })
).pipe(Command.withDescription("Let machines read a shared secret; prints who has access"))

const revoke = Command.make("revoke", { name: nameArg, machines: machinesOption }, ({ name, machines }) =>
  Effect.gen(function* () {
    const globals = yield* root
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
      api.sharedSecrets.revoke({ path: { id: secret.shared_secret_id }, payload: { machine_ids: machines } })
    )
    yield* render(globals.output, grants, grantsTable)
  })
).pipe(Command.withDescription("Take machines' access to a shared secret away; prints who still has it"))

const access = Command.make("access", { name: nameArg, limit, offset }, ({ name, limit, offset }) =>
  Effect.gen(function* () {
    const globals = yield* root
    const secret = yield* byName(globals, name)
    const grants = yield* callVaultApi(globals, (api) => api.sharedSecrets.access({ path: { id: secret.shared_secret_id }, urlParams: { limit, offset } }))
    yield* render(globals.output, grants, grantsTable)
  })
).pipe(Command.withDescription("Show which machines may read a shared secret"))

const rotate = Command.make("rotate", { name: nameArg, value: valueOption("The new value (up to 64 KiB)") }, ({ name, value }) =>
  Effect.gen(function* () {
    const globals = yield* root
    const secret = yield* byName(globals, name)
    const rotated = yield* callVaultApi(globals, (api) =>
      api.sharedSecrets.update({ path: { id: secret.shared_secret_id }, payload: { value: Redacted.value(value) } })
    )
    yield* render(globals.output, rotated, secretDetails)
  })
).pipe(Command.withDescription("Replace a shared secret's value (machines read the new one from now on)"))

const remove = Command.make("delete", { name: nameArg }, ({ name }) =>
  Effect.gen(function* () {
    const globals = yield* root
    const secret = yield* byName(globals, name)
    yield* callVaultApi(globals, (api) => api.sharedSecrets.delete({ path: { id: secret.shared_secret_id } }))
    yield* render(globals.output, { name, shared_secret_id: secret.shared_secret_id, deleted: true }, () => `deleted shared secret ${name}`)
  })
).pipe(Command.withDescription("Delete a shared secret and every grant to it"))

const rewrap = Command.make("rewrap", {}, () =>
  Effect.gen(function* () {
    const globals = yield* root
    const result = yield* callVaultApi(globals, (api) => api.sharedSecrets.rewrap())
    yield* render(globals.output, result, rewrapLine)
  })
).pipe(Command.withDescription("Re-encrypt shared secrets still under a previous master key with the current one (admin)"))

export const sharedSecretCommand = group("shared-secret", "Secrets shared by several machines (secret_vault extension)", [
  create,
  list,
  grant,
  revoke,
  access,
  rotate,
  remove,
  rewrap
])
