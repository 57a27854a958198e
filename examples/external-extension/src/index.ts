/**
 * @itl-examples/attestation-inventory — an extension of the ITL Attestation
 * Platform in its own npm package. The host finds it through the
 * `"attestationExtensions"` field of package.json; this module's default
 * export is the extension value.
 */
import { defineExtension, serveApi } from "@itl-attestation/core"
import { Layer } from "effect"
import { ApprovalCounter } from "./ApprovalCounter.js"
import { inventoryEvents } from "./events.js"
import { inventoryScopes } from "./scopes.js"
import { InventoryApi } from "./InventoryApi.js"
import { InventoryHttp } from "./InventoryHttp.js"
import { InventoryService } from "./InventoryService.js"
import { migrations } from "./migrations.js"

export const inventoryExtension = defineExtension({
  name: "example_inventory",
  version: "1.0.0",
  description: "An inventory tag per machine (example external extension)",
  // The core this was built and tested against; a core outside the range refuses to load it.
  core: "^2.0.0",
  migrations,
  scopes: inventoryScopes,
  events: inventoryEvents,
  layer: Layer.merge(InventoryService.Default, ApprovalCounter),
  apis: [serveApi(InventoryApi, InventoryHttp)]
})

export default inventoryExtension
export { InventoryApi } from "./InventoryApi.js"
export * from "./Inventory.js"
