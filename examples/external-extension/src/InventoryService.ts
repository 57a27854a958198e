/**
 * The inventory's rules: a tag is set only on a machine the platform knows
 * (the machine read model), and every change is an audited change — the SQL,
 * its audit row and its event commit together or not at all.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { actorOf, AuditedChanges, authorized, MachineDirectory, MachineId, NotFound, sqlDefect } from "@itl-attestation/core"
import { Effect, Schema } from "effect"
import { ApprovalStats, InventoryList, InventoryTag } from "./Inventory.js"
import { InventoryRead, InventoryWrite } from "./scopes.js"

/** A row as the database returns it; the timestamp is rendered as ISO 8601 for the API. */
const TagRow = Schema.Struct({
  machine_id: MachineId,
  tag: Schema.String,
  updated_by: Schema.String,
  updated_at: Schema.Union(Schema.DateFromSelf, Schema.String)
})
const toTag = (row: typeof TagRow.Type) =>
  new InventoryTag({
    machine_id: row.machine_id,
    tag: row.tag,
    updated_by: row.updated_by,
    updated_at: row.updated_at instanceof Date ? row.updated_at.toISOString() : new Date(row.updated_at).toISOString()
  })

export class InventoryService extends Effect.Service<InventoryService>()("@itl-examples/attestation-inventory/InventoryService", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const machines = yield* MachineDirectory
    const changes = yield* AuditedChanges

    const upsert = SqlSchema.single({
      Request: Schema.Struct({ machineId: Schema.String, tag: Schema.String, by: Schema.String }),
      Result: TagRow,
      execute: ({ by, machineId, tag }) => sql`
        INSERT INTO extension_example_inventory_tags (machine_id, tag, updated_by)
        VALUES (${machineId}, ${tag}, ${by})
        ON CONFLICT (machine_id) DO UPDATE SET tag = EXCLUDED.tag, updated_by = EXCLUDED.updated_by, updated_at = now()
        RETURNING machine_id, tag, updated_by, updated_at`
    })
    const all = SqlSchema.findAll({
      Request: Schema.Void,
      Result: TagRow,
      execute: () => sql`SELECT machine_id, tag, updated_by, updated_at FROM extension_example_inventory_tags ORDER BY machine_id`
    })

    return {
      setTag: Effect.fn("InventoryService.setTag")(function* (machineId: string, tag: string) {
        // The proof the endpoint's policy gives: a handler without `requireScope(InventoryWrite)` does not compile.
        const operator = yield* authorized(InventoryWrite)
        if (!(yield* machines.exists(machineId))) return yield* new NotFound({ message: `machine ${machineId} not found` })
        const row = yield* changes.run(actorOf(operator), upsert({ machineId, tag, by: operator.name }), (saved) => ({
          action: "example_inventory.tag_set",
          targetType: "machine",
          targetId: saved.machine_id,
          details: { tag: saved.tag },
          events: [{ type: "example_inventory.tag_set", machineId: saved.machine_id, data: { tag: saved.tag } }]
        }))
        return toTag(row)
      }, (self) => self.pipe(Effect.catchTags({ ParseError: Effect.die, NoSuchElementException: Effect.die }), sqlDefect)),
      list: Effect.fn("InventoryService.list")(function* () {
        yield* authorized(InventoryRead)
        const rows = yield* all(undefined)
        return new InventoryList({ tags: rows.map(toTag), total: rows.length })
      }, (self) => self.pipe(Effect.catchTag("ParseError", Effect.die), sqlDefect)),
      stats: Effect.fn("InventoryService.stats")(function* () {
        yield* authorized(InventoryRead)
        const [row] = yield* sql<{ readonly n: number | string }>`SELECT count(*) AS n FROM extension_example_inventory_approvals`
        return new ApprovalStats({ approvals_seen: Number(row?.n ?? 0) })
      }, sqlDefect)
    }
  })
}) {}
