/** The inventory's data: one tag per machine (an asset number, a rack position, …). */
import { MachineId } from "@itl-attestation/core"
import { Schema } from "effect"

/** Printable, no spaces at either end, up to 64 characters. */
export const Tag = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/, {
    message: () => "must be 1-64 characters: letters, digits and . _ : / - (starting with a letter or digit)"
  })
)

export class SetTag extends Schema.Class<SetTag>("SetTag")({ tag: Tag }) {}

export class InventoryTag extends Schema.Class<InventoryTag>("InventoryTag")({
  machine_id: MachineId,
  tag: Schema.String,
  updated_by: Schema.String,
  updated_at: Schema.String
}) {}

export class InventoryList extends Schema.Class<InventoryList>("InventoryList")({
  tags: Schema.Array(InventoryTag),
  total: Schema.Number
}) {}

export class ApprovalStats extends Schema.Class<ApprovalStats>("ApprovalStats")({
  /** `machine.approved` events the extension's consumer has seen. */
  approvals_seen: Schema.Number
}) {}
