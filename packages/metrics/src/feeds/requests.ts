/**
 * Feeds the HTTP histogram and the outcome counters from the per-request hook
 * (core RequestObservers): method, route template, status, duration — never
 * the raw URL, so no label holds an id, a name or a fingerprint.
 */
import { RequestObservers } from "@itl-attestation/core"
import { Effect, Layer } from "effect"
import { PlatformMetrics } from "../PlatformMetrics.js"
import { countedRoutes, outcomeOf, registrationStatusOf } from "./outcomes.js"

export const RequestFeed = Layer.scopedDiscard(
  Effect.gen(function* () {
    const metrics = yield* PlatformMetrics
    const observers = yield* RequestObservers
    // One child per (method, route, status): the label hash is computed once, not on every request.
    const durations = new Map<string, { observe: (value: number) => void }>()
    yield* observers.observe((request) =>
      Effect.sync(() => {
        const key = `${request.method} ${request.route} ${request.status}`
        let child = durations.get(key)
        if (child === undefined) {
          child = metrics.httpDuration.labels({ method: request.method, route: request.route, status_code: String(request.status) })
          durations.set(key, child)
        }
        child.observe(request.durationSeconds)

        const counted = countedRoutes.get(`${request.method} ${request.route}`)
        if (counted === undefined) return
        if (counted.series === "registrations") {
          const status = registrationStatusOf(request.status)
          if (status !== undefined) metrics.registrations.inc({ status })
          return
        }
        const outcome = outcomeOf(request.status)
        if (outcome === undefined || (outcome === "success" && counted.successFromEvent)) return
        const counter: { inc: (labels: Record<string, string>) => void } =
          counted.series === "attestations" ? metrics.attestations : metrics.secretOperations
        counter.inc({ ...counted.labels, status: outcome })
      })
    )
  })
)
