/**
 * Counters that extensions declare and increment, for whatever exports them
 * (the metrics extension turns each into a Prometheus counter
 * `attestation_<name>_total`). An extension reports what it does without
 * knowing who listens, and an exporter learns of counters it was never told
 * about: the webhooks extension counts deliveries here, and the metrics
 * extension never imports it.
 *
 * Label values must come from small, fixed sets (an outcome, an event type):
 * never an id, a name, a URL or anything a client chose, which would make one
 * series per value and could leak what the value holds.
 */
import { Effect } from "effect"

export interface CounterDefinition {
  /** snake_case, unique across the platform: `webhook_deliveries`. */
  readonly name: string
  /** One line: what one increment means. */
  readonly help: string
  /** The label names every increment sets, in a fixed order. */
  readonly labels: ReadonlyArray<string>
}

export interface CounterIncrement {
  readonly counter: CounterDefinition
  readonly labels: Readonly<Record<string, string>>
  readonly by: number
}

export type MeasurementObserver = {
  /** A counter was declared (also called, on `observe`, for every counter declared before). */
  readonly declared: (counter: CounterDefinition) => void
  readonly incremented: (increment: CounterIncrement) => void
}

/** What `counter` returns: increments are synchronous and cheap, so they fit in any code path. */
export interface Counter {
  readonly inc: (labels: Readonly<Record<string, string>>, by?: number) => void
}

const COUNTER_NAME = /^[a-z][a-z0-9_]{0,99}$/
const LABEL_NAME = /^[a-z][a-z0-9_]{0,49}$/

const sameLabels = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => a.length === b.length && a.every((l, i) => l === b[i])

export class Measurements extends Effect.Service<Measurements>()("@itl-attestation/core/Measurements", {
  sync: () => {
    const counters = new Map<string, CounterDefinition>()
    const observers = new Set<MeasurementObserver>()

    const notify = (call: (observer: MeasurementObserver) => void) => {
      for (const observer of observers) {
        try {
          call(observer)
        } catch {
          // An exporter's bug must not fail the delivery or request that counted.
        }
      }
    }

    /**
     * Declares a counter (once per name; declaring the same name with the same
     * labels again returns the same counter) and returns its incrementer. A bad
     * name or a clash is a defect of the extension, found by its first test.
     */
    const counter = (definition: CounterDefinition): Effect.Effect<Counter> =>
      Effect.suspend(() => {
        if (!COUNTER_NAME.test(definition.name)) return Effect.dieMessage(`counter name ${JSON.stringify(definition.name)} is not snake_case`)
        const bad = definition.labels.find((label) => !LABEL_NAME.test(label))
        if (bad !== undefined) return Effect.dieMessage(`counter ${definition.name}: label name ${JSON.stringify(bad)} is not snake_case`)
        const existing = counters.get(definition.name)
        if (existing !== undefined && !sameLabels(existing.labels, definition.labels)) {
          return Effect.dieMessage(`counter ${definition.name} is already declared with labels ${existing.labels.join(", ")}`)
        }
        const declared = existing ?? definition
        if (existing === undefined) {
          counters.set(declared.name, declared)
          notify((observer) => observer.declared(declared))
        }
        return Effect.succeed<Counter>({
          inc: (labels, by = 1) => {
            if (observers.size > 0) notify((observer) => observer.incremented({ counter: declared, labels, by }))
          }
        })
      })

    return {
      counter,
      /** Adds an observer for the life of the caller's scope; it first hears of every counter already declared. */
      observe: (observer: MeasurementObserver) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            observers.add(observer)
            for (const definition of counters.values()) observer.declared(definition)
          }),
          () => Effect.sync(() => void observers.delete(observer))
        )
    } as const
  }
}) {}
