/**
 * `attestation inventory …`: the extension's commands, found by the CLI
 * through the `"attestationCli"` field of package.json. Built with the CLI's
 * SDK, so they take the global --url, --token and -o like every command, and
 * fail with one line like them.
 */
import { apiCaller, arg, column, command, count, defineCliExtension, details, group, render, table, time, uuid } from "@itl-attestation/cli/sdk"
import type { MachineId } from "@itl-attestation/core"
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

const tag = command({
  name: "tag",
  summary: "Set a machine's inventory tag (operator)",
  examples: [{ command: "attestation inventory tag 0f6c2a5e-8d0b-4a57-9c1e-3b2f4d5a6e7f rack-12", description: "Tag a machine with its rack" }],
  args: {
    machineId: arg.text("machine-id", { description: "Machine id (UUID)", validate: uuid }),
    tag: arg.text("tag", { description: "The inventory tag (1-64 characters: letters, digits, . _ : / -)" })
  },
  run: ({ args, globals }) =>
    Effect.gen(function* () {
      const saved = yield* callInventory(globals, (api) => api.inventory.setTag({ path: { id: args.machineId as MachineId }, payload: { tag: args.tag } }))
      yield* render(globals.output, saved, tagDetails, (t) => [t.machine_id])
    })
})

const list = command({
  name: "list",
  summary: "List the inventory tags",
  examples: [{ command: "attestation inventory list", description: "Every tagged machine" }],
  run: ({ globals }) =>
    Effect.gen(function* () {
      const tags = yield* callInventory(globals, (api) => api.inventory.list())
      yield* render(globals.output, tags, (l) => `${table(tagColumns, l.tags)}\n${count(l.total, "tag")}`, (l) => l.tags.map((t) => t.machine_id))
    })
})

const stats = command({
  name: "stats",
  summary: "How many machine approvals the extension has seen",
  examples: [{ command: "attestation inventory stats", description: "The approval counter" }],
  run: ({ globals }) =>
    Effect.gen(function* () {
      const result = yield* callInventory(globals, (api) => api.inventory.stats())
      yield* render(globals.output, result, (s) => `approvals seen: ${s.approvals_seen}`, () => [])
    })
})

export default defineCliExtension({
  name: "example_inventory",
  commands: [
    group({
      name: "inventory",
      summary: "Inventory tags of machines (example_inventory extension)",
      commands: [tag, list, stats],
      examples: [{ command: "attestation inventory list", description: "Every tagged machine" }]
    })
  ]
})
