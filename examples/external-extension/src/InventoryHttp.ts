/** The handlers: each calls the service, nothing else. */
import { groupUsing } from "@itl-attestation/core"
import { Effect } from "effect"
import { InventoryApi } from "./InventoryApi.js"
import { InventoryService } from "./InventoryService.js"

export const InventoryHttp = groupUsing(InventoryService)(InventoryApi, "inventory", (handlers) =>
  Effect.map(InventoryService, (inventory) =>
    handlers
      .handle("setTag", ({ path, payload }) => inventory.setTag(path.id, payload.tag))
      .handle("list", () => inventory.list())
      .handle("stats", () => inventory.stats())
  )
)
