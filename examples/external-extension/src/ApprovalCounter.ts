/**
 * An event subscription: a durable consumer (its cursor is kept in the
 * database, so a restart neither loses nor repeats events) that records every
 * `machine.approved` it reads. Idempotent by the event's `seq`, as a consumer
 * should be: an event can be handed over again after a crash. A handler that
 * keeps failing on one event retries it, then sets it aside as a dead letter
 * (listed and replayed through /api/v1/events/dead-letters).
 */
import { SqlClient } from "@effect/sql"
import { EventBus } from "@itl-attestation/core"
import { Effect, Layer } from "effect"

export const ApprovalCounter = Layer.scopedDiscard(
  Effect.gen(function* () {
    const events = yield* EventBus
    const sql = yield* SqlClient.SqlClient
    yield* events.consume({
      name: "example_inventory.approvals",
      startAt: "beginning",
      pollInterval: "500 millis",
      handle: (event) =>
        event.event_type !== "machine.approved"
          ? Effect.void
          : sql`INSERT INTO extension_example_inventory_approvals (seq, machine_id)
                VALUES (${event.seq}, ${event.machine_id ?? null}) ON CONFLICT (seq) DO NOTHING`.pipe(Effect.asVoid)
    })
  })
)
