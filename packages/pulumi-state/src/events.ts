/**
 * The event types this extension appends. The catalog's names are
 * `<namespace>.<name>`, two snake_case segments with one dot (core
 * events/Event.ts), so the issue's `pulumi.update.succeeded` is
 * `pulumi.update_succeeded` here (namespace `pulumi`, as webhooks uses
 * `webhook`). Payloads name the stack and the update, never state, config or
 * secrets.
 */
import { defineEvent } from "@itl-attestation/core"
import { Schema } from "effect"

const UpdateFinished = Schema.Struct({
  org: Schema.String,
  project: Schema.String,
  stack: Schema.String,
  update_id: Schema.String,
  kind: Schema.String,
  version: Schema.Number
})

export const UpdateSucceeded = defineEvent({
  type: "pulumi.update_succeeded",
  description: "A Pulumi update (update, refresh, destroy or import; not a preview) finished successfully",
  payload: UpdateFinished
})
export const UpdateFailed = defineEvent({
  type: "pulumi.update_failed",
  description: "A Pulumi update (not a preview) finished failed or was cancelled",
  payload: UpdateFinished
})

export const pulumiEvents = [UpdateSucceeded, UpdateFailed]
