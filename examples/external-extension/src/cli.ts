/**
 * `attestation inventory …`: the extension's commands, found by the CLI
 * through the `"attestationCli"` field of package.json. Built with the CLI's
 * SDK, so they take the global --url, --token and -o like every command, and
 * fail with one line like them.
 */
import { Args, Command } from "@effect/cli"
import { apiCaller, attestation, column, count, defineCliExtension, details, group, render, table, time } from "@itl-attestation/cli/sdk"
import { Effect } from "effect"
import type { InventoryTag } from "./Inventory.js"
import { InventoryApi } from "./InventoryApi.js"

/** A client derived from the extension's own HttpApi; failures become one-line errors. */
const callInventory = apiCaller(InventoryApi)

const tagDetails = (t: InventoryTag) =>
  details([
    ["machine_id", t.machine_id],
    ["tag", t.tag],
    ["updated_by", t.updated_by],
    ["updated_at", time(t.updated_at)]
  ])

const tagColumns = [
  column<InventoryTag>("machine_id", (t) => t.machine_id),
  column<InventoryTag>("tag", (t) => t.tag),
  column<InventoryTag>("updated_by", (t) => t.updated_by),
  column<InventoryTag>("updated_at", (t) => time(t.updated_at))
]

const tag = Command.make(
  "tag",
  {
    machineId: Args.text({ name: "machine-id" }).pipe(Args.withDescription("Machine id (UUID)")),
    tag: Args.text({ name: "tag" }).pipe(Args.withDescription("The inventory tag (1-64 characters: letters, digits, . _ : / -)"))
  },
  ({ machineId, tag }) =>
    Effect.gen(function* () {
      const globals = yield* attestation
      const saved = yield* callInventory(globals, (api) => api.inventory.setTag({ path: { id: machineId }, payload: { tag } }))
      yield* render(globals.output, saved, tagDetails)
    })
).pipe(Command.withDescription("Set a machine's inventory tag (operator)"))

const list = Command.make("list", {}, () =>
  Effect.gen(function* () {
    const globals = yield* attestation
    const tags = yield* callInventory(globals, (api) => api.inventory.list())
    yield* render(globals.output, tags, (l) => `${table(tagColumns, l.tags)}\n${count(l.total, "tag")}`)
  })
).pipe(Command.withDescription("List the inventory tags"))

const stats = Command.make("stats", {}, () =>
  Effect.gen(function* () {
    const globals = yield* attestation
    const result = yield* callInventory(globals, (api) => api.inventory.stats())
    yield* render(globals.output, result, (s) => `approvals seen: ${s.approvals_seen}`)
  })
).pipe(Command.withDescription("How many machine approvals the extension has seen"))

export default defineCliExtension({
  name: "example_inventory",
  commands: [group("inventory", "Inventory tags of machines (example_inventory extension)", [tag, list, stats])]
})
