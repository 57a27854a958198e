/** Wakes this instance's runner when a deployment is queued or cancelled here, rather than at its next poll. */
import { Effect, Queue } from "effect"

export class DeploymentWake extends Effect.Service<DeploymentWake>()("@itl-attestation/pulumi-state/DeploymentWake", {
  effect: Effect.map(Queue.sliding<void>(1), (queue) => ({
    nudge: Queue.offer(queue, undefined).pipe(Effect.asVoid),
    /** Waits for a nudge, at most `ms`. */
    wait: (ms: number) => Queue.take(queue).pipe(Effect.timeoutOption(ms), Effect.asVoid)
  }))
}) {}
