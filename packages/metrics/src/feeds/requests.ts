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
    yield* observers.observe((request) =>
      Effect.sync(() => {
        // About a microsecond (prom-client checks and hashes the labels on every observation): measured by bench/metrics.js.
        metrics.httpDuration.observe(
          { method: request.method, route: request.route, status_code: String(request.status) },
          request.durationSeconds
        )

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
