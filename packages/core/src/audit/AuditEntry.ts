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
  /** Allocation order (a sequence): concurrent writers may commit out of this order. */
  id: Schema.Number,
  /** Position in the HMAC chain, 1, 2, 3, …; null until the sealer has linked the row. */
  chain_seq: Schema.NullOr(Schema.Number),
  at: IsoTimestamp,
  actor: Schema.String,
  actor_kind: ActorKind,
  action: Schema.String,
  target_type: Schema.String,
  target_id: Schema.NullOr(Schema.String),
  details: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  /** Null until sealed. */
  prev_hash: Schema.NullOr(Schema.String),
  /** Null until sealed. */
  hash: Schema.NullOr(Schema.String)
}) {}

export class AuditPage extends Schema.Class<AuditPage>("AuditPage")({
  entries: Schema.Array(AuditEntry),
  total: Schema.Number,
  limit: Schema.Number,
  offset: Schema.Number
}) {}

export class AuditVerification extends Schema.Class<AuditVerification>("AuditVerification")({
  /** Every sealed row links to its predecessor and its HMAC holds. */
  valid: Schema.Boolean,
  /** Rows in the log, sealed and pending. */
  entries: Schema.Number,
  /** The chain position (chain_seq) where the chain first breaks, or null. */
  first_invalid_id: Schema.NullOr(Schema.Number),
  /** Rows linked into the chain (and verified). */
  sealed: Schema.Number,
  /** Rows written but not yet sealed: they become verifiable once the sealer links them. */
  pending: Schema.Number
}) {}
