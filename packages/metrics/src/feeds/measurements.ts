/**
 * Exports every counter that any extension declares through the core's
 * Measurements as `attestation_<name>_total`, with its labels — without
 * knowing the extension. The webhooks extension's `webhook_deliveries` becomes
 * `attestation_webhook_deliveries_total{event_type,status}`. It is declared
 * here too (same name, same labels), so the series is described even before
 * webhooks has delivered anything, or when it is not installed.
 */
import { type CounterDefinition, Measurements } from "@itl-attestation/core"
import { Effect, Layer } from "effect"
import * as client from "prom-client"
import { PlatformMetrics } from "../PlatformMetrics.js"

export const WEBHOOK_DELIVERIES: CounterDefinition = {
  name: "webhook_deliveries",
  help: "Webhook delivery attempts, by event type and outcome (success: a 2xx answer; failure: anything else)",
  labels: ["event_type", "status"]
}

export const MeasurementsFeed = Layer.scopedDiscard(
  Effect.gen(function* () {
    const metrics = yield* PlatformMetrics
    const measurements = yield* Measurements
    const exported = new Map<string, client.Counter<string>>()
    yield* measurements.counter(WEBHOOK_DELIVERIES)
    yield* measurements.observe({
      declared: (definition) => {
        const name = `attestation_${definition.name}_total`
        if (metrics.registry.getSingleMetric(name) !== undefined) {
          // One of the platform's own series: an extension cannot redefine it.
          return
        }
        exported.set(
          definition.name,
          new client.Counter({ name, help: definition.help, labelNames: [...definition.labels], registers: [metrics.registry] })
        )
      },
      incremented: ({ counter, labels, by }) => exported.get(counter.name)?.inc(labels, by)
    })
  })
)
