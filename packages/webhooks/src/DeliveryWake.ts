/** Wakes this instance's delivery worker: a message was queued, a retry fell due, or a slot came free. */
import { Duration, Effect, Queue } from "effect"

export class DeliveryWake extends Effect.Service<DeliveryWake>()("@itl-attestation/webhooks/DeliveryWake", {
  effect: Effect.map(Queue.sliding<void>(1), (queue) => ({
    nudge: Queue.offer(queue, undefined).pipe(Effect.asVoid),
    /** Until a nudge, or `ms` at most (other instances queue work this one only sees by looking). */
    wait: (ms: number) => Queue.take(queue).pipe(Effect.timeout(Duration.millis(ms)), Effect.ignore)
  }))
}) {}
