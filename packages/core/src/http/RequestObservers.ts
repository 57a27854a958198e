/**
 * A hook on every request the platform serves: after the response is built,
 * each observer gets the method, the route template (never the raw URL, which
 * may hold ids and names), the status and the duration. The metrics extension
 * feeds its request histogram from it. Observers run inline and must be cheap;
 * one that fails is logged and does not change the response.
 */
import { Effect } from "effect"
import { observerSet } from "../observability/observerSet.js"

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
    const observers = observerSet<ObservedRequest>("request")
    return { observe: observers.observe, notify: observers.notify } as const
  }
}) {}
