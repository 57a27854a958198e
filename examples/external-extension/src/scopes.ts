/** The extension's own scopes: the roles that hold them by default, and what operators can limit tokens to. */
import { defineScope } from "@itl-attestation/core"

export const InventoryRead = defineScope({ name: "example_inventory:read", description: "Read inventory tags and approval counts", grantedTo: "viewer" })
export const InventoryWrite = defineScope({ name: "example_inventory:write", description: "Set a machine's inventory tag", grantedTo: "operator" })

export const inventoryScopes = [InventoryRead, InventoryWrite]
