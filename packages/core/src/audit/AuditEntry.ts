import { Schema } from "effect"
import { IsoTimestamp } from "../schema/IsoTimestamp.js"

export const ActorKind = Schema.Literal("operator", "machine", "system")
export type ActorKind = typeof ActorKind.Type

/** Who did something: an operator (token name or mTLS subject DN), a machine, or the platform itself. */
export interface Actor {
  readonly name: string
  readonly kind: ActorKind
}

export const systemActor: Actor = { name: "system", kind: "system" }

export class AuditEntry extends Schema.Class<AuditEntry>("AuditEntry")({
  id: Schema.Number,
  at: IsoTimestamp,
  actor: Schema.String,
  actor_kind: ActorKind,
  action: Schema.String,
  target_type: Schema.String,
  target_id: Schema.NullOr(Schema.String),
  details: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  prev_hash: Schema.String,
  hash: Schema.String
}) {}

export class AuditPage extends Schema.Class<AuditPage>("AuditPage")({
  entries: Schema.Array(AuditEntry),
  total: Schema.Number,
  limit: Schema.Number,
  offset: Schema.Number
}) {}

export class AuditVerification extends Schema.Class<AuditVerification>("AuditVerification")({
  valid: Schema.Boolean,
  entries: Schema.Number,
  first_invalid_id: Schema.NullOr(Schema.Number)
}) {}
