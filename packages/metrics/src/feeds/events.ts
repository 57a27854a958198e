/**
 * Counts the successes of changes that emit an event, from the events this
 * instance commits (EventBus.subscribe: in-process, after the commit). Each
 * event is committed by exactly one instance, so per-instance counts add up to
 * the fleet's.
 */
import { EventBus } from "@itl-attestation/core"
import { Effect, Layer, Queue } from "effect"
import { PlatformMetrics } from "../PlatformMetrics.js"
import { eventCounts } from "./outcomes.js"

export const EventFeed = Layer.scopedDiscard(
  Effect.gen(function* () {
    const metrics = yield* PlatformMetrics
    const bus = yield* EventBus
    const committed = yield* bus.subscribe
    const count = (eventType: string) => {
      const counted = eventCounts.get(eventType)
      if (counted === undefined) return
      const counter: { inc: (labels: Record<string, string>) => void } =
        counted.series === "registrations" ? metrics.registrations : counted.series === "attestations" ? metrics.attestations : metrics.secretOperations
      counter.inc(counted.labels)
    }
    yield* Effect.forkScoped(
      Queue.takeBetween(committed, 1, 1000).pipe(
        Effect.flatMap((events) => Effect.sync(() => { for (const event of events) count(event.event_type) })),
        Effect.forever
      )
    )
  })
)
