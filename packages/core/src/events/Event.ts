/**
 * The domain events. Each is `{event_type, timestamp, machine_id?, data}`;
 * the core types are a closed union, and extensions may add their own types
 * under a namespaced prefix (`<extension>.<event>`).
 */
import { Schema } from "effect"

export const CoreEventType = Schema.Literal(
  "machine.registered",
  "machine.approved",
  "machine.rejected",
  "machine.attested",
  "machine.attestation_failed",
  "machine.locked",
  "machine.unlocked",
  "machine.revoked",
  "machine.deleted",
  "secret.created",
  "secret.accessed",
  "secret.deleted",
  "shared_secret.created",
  "shared_secret.rotated",
  "shared_secret.deleted",
  "shared_secret.access_granted",
  "shared_secret.access_revoked",
  "shared_secret.accessed",
  "webhook.test"
)
export type CoreEventType = typeof CoreEventType.Type

/** A namespaced extension event type, e.g. `pulumi_state.update_completed`. */
export const ExtensionEventType = Schema.TemplateLiteral(Schema.String, ".", Schema.String)

export const EventType = Schema.Union(CoreEventType, ExtensionEventType)
export type EventType = typeof EventType.Type

export class DomainEvent extends Schema.Class<DomainEvent>("DomainEvent")({
  event_type: EventType,
  timestamp: Schema.DateTimeUtc,
  machine_id: Schema.optional(Schema.UUID),
  /** Never holds a secret value: events leave the platform through webhooks. */
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}) {}

/** An event as read back from the outbox, with its position. */
export class StoredEvent extends Schema.Class<StoredEvent>("StoredEvent")({
  seq: Schema.Number,
  id: Schema.UUID,
  event_type: EventType,
  timestamp: Schema.DateTimeUtc,
  machine_id: Schema.optional(Schema.UUID),
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}) {}
