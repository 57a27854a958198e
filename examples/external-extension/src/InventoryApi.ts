/**
 * The extension's HTTP API. The CLI module derives its client from this same
 * value, and the server serves it with the handlers in InventoryHttp.ts.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Forbidden, MachineId, NotFound, requireScope } from "@itl-attestation/core"
import { Schema } from "effect"
import { ApprovalStats, InventoryList, InventoryTag, SetTag } from "./Inventory.js"
import { InventoryRead, InventoryWrite } from "./scopes.js"

export class InventoryGroup extends HttpApiGroup.make("inventory")
  .add(
    HttpApiEndpoint.put("setTag", "/example-inventory/machines/:id/tag")
      .setPath(Schema.Struct({ id: MachineId }))
      .setPayload(SetTag)
      .addSuccess(InventoryTag)
      .addError(NotFound)
      .middleware(requireScope(InventoryWrite))
  )
  .add(HttpApiEndpoint.get("list", "/example-inventory/tags").addSuccess(InventoryList).middleware(requireScope(InventoryRead)))
  .add(HttpApiEndpoint.get("stats", "/example-inventory/stats").addSuccess(ApprovalStats).middleware(requireScope(InventoryRead)))
  .addError(Forbidden)
  .prefix("/api/v1") {}

export class InventoryApi extends HttpApi.make("example_inventory").add(InventoryGroup) {}
