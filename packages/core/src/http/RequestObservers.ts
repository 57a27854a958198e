/**
 * A hook on every request the platform serves: after the response is built,
 * each observer gets the method, the route template (never the raw URL, which
 * may hold ids and names), the status and the duration. The metrics extension
 * feeds its request histogram from it. Observers run inline and must be cheap;
 * one that fails is logged and does not change the response.
 */
import { Effect } from "effect"

export interface ObservedRequest {
  readonly requestId: string
  readonly method: string
  /** The route template, e.g. `/api/v1/machines/:id`; `unmatched` when no route matched. */
  readonly route: string
  readonly status: number
  readonly durationSeconds: number
}

export type RequestObserver = (request: ObservedRequest) => Effect.Effect<void>

export class RequestObservers extends Effect.Service<RequestObservers>()("@itl-attestation/core/RequestObservers", {
  sync: () => {
    const observers = new Set<RequestObserver>()
    return {
      /** Adds an observer for the life of the caller's scope. */
      observe: (observer: RequestObserver) =>
        Effect.acquireRelease(
          Effect.sync(() => void observers.add(observer)),
          () => Effect.sync(() => void observers.delete(observer))
        ),
      notify: (request: ObservedRequest) =>
        observers.size === 0
          ? Effect.void
          : Effect.forEach(observers, (observer) =>
              observer(request).pipe(Effect.catchAllCause((cause) => Effect.logWarning("request observer failed", cause)))
            , { discard: true })
    } as const
  }
}) {}
