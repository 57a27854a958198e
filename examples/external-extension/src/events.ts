/** The event types the extension appends, with their payloads: the catalog checks every append against them. */
import { defineEvent } from "@itl-attestation/core"
import { Schema } from "effect"

export const TagSet = defineEvent({
  type: "example_inventory.tag_set",
  description: "A machine's inventory tag was set or changed",
  payload: Schema.Struct({ tag: Schema.String })
})

export const inventoryEvents = [TagSet]
