/**
 * The events as extensions see them: subscribe to what this instance commits,
 * or run a durable consumer over the outbox. Appending is not here: an
 * extension's events are written with its audited changes (AuditedChanges).
 */
import { Effect } from "effect"
import { Events } from "./Events.js"

export class EventBus extends Effect.Service<EventBus>()("@itl-attestation/core/EventBus", {
  effect: Effect.map(Events, (events) => ({ subscribe: events.subscribe, consume: events.consume }) as const)
}) {}
