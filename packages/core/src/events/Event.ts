/**
 * The domain events. Each is `{event_type, timestamp, machine_id?, data}`.
 * Every type is declared by its owner (the core or an extension) in the
 * EventCatalog with a payload Schema for `data`; `Events.append` refuses an
 * undeclared type or a payload that does not match its declaration.
 */
import { Schema } from "effect"

/** `namespace.name`, both snake_case: `machine.attested`, `shared_secret.rotated`. */
export const EVENT_TYPE_PATTERN = /^[a-z][a-z0-9_]{0,62}\.[a-z][a-z0-9_]{0,62}$/

export const EventType = Schema.String.pipe(
  Schema.pattern(EVENT_TYPE_PATTERN),
  Schema.annotations({ description: "Event type, `namespace.name` (snake_case), declared in the event catalog" })
)
export type EventType = typeof EventType.Type

export class DomainEvent extends Schema.Class<DomainEvent>("DomainEvent")({
  event_type: EventType,
  timestamp: Schema.DateTimeUtc,
  machine_id: Schema.optional(Schema.UUID),
  /** Never holds a secret value: events leave the platform through webhooks. Checked against the type's payload Schema. */
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}) {}

/**
 * An event as read back from the outbox, with its position. Its type is not
 * checked against the catalog: history may hold types of an extension that
 * is no longer installed.
 */
export class StoredEvent extends Schema.Class<StoredEvent>("StoredEvent")({
  seq: Schema.Number,
  id: Schema.UUID,
  event_type: Schema.String,
  timestamp: Schema.DateTimeUtc,
  machine_id: Schema.optional(Schema.UUID),
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}) {}
