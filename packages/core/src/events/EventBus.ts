/**
 * The events as extensions see them: subscribe to what this instance commits,
 * or run a durable consumer over the outbox, and the types the catalog holds
 * right now (an extension that routes events elsewhere, such as webhooks,
 * checks a subscription against it, including types of extensions loaded
 * after it). Appending is not here: an extension's events are written with
 * its audited changes (AuditedChanges).
 */
import { Effect } from "effect"
import { Events } from "./Events.js"

export class EventBus extends Effect.Service<EventBus>()("@itl-attestation/core/EventBus", {
  effect: Effect.map(
    Events,
    (events) =>
      ({
        subscribe: events.subscribe,
        consume: events.consume,
        /** Every declared event type, sorted; read at call time, so later registrations count. */
        eventTypes: Effect.map(events.catalog.list, (entries) => entries.map((entry) => entry.definition.type))
      }) as const
  )
}) {}
