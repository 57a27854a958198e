/**
 * A set of in-process observers that platform code notifies inline (the
 * request hook, the audit feed). Observers must be cheap; one that fails is
 * logged and never changes what the notifier does.
 */
import { Effect } from "effect"

export const observerSet = <A>(what: string) => {
  const observers = new Set<(value: A) => Effect.Effect<void>>()
  const guarded = (observer: (value: A) => Effect.Effect<void>, value: A) =>
    observer(value).pipe(Effect.catchAllCause((cause) => Effect.logWarning(`${what} observer failed`, cause)))
  return {
    /** Adds an observer for the life of the caller's scope. */
    observe: (observer: (value: A) => Effect.Effect<void>) =>
      Effect.acquireRelease(
        Effect.sync(() => void observers.add(observer)),
        () => Effect.sync(() => void observers.delete(observer))
      ),
    notify: (value: A) => {
      // The common cases without a loop: no observer (no extension listens), or one (the metrics extension).
      if (observers.size === 0) return Effect.void
      if (observers.size === 1) return guarded(observers.values().next().value!, value)
      return Effect.forEach(observers, (observer) => guarded(observer, value), { discard: true })
    }
  }
}
