/**
 * The registry and the platform's series. Each application gets its own
 * prom-client Registry (never the global default), so two apps in one process
 * — two embedded platforms, or a host that has its own prom-client metrics —
 * never collide. What feeds each series is in feeds/; how it is rendered is in
 * exposition.ts.
 */
import { MachineDirectory, HostEnvironment } from "@itl-attestation/core"
import { Effect, Runtime } from "effect"
import * as client from "prom-client"
import { registerScrapeGauge, type Sample } from "./scrapeGauge.js"

/** Request durations from 5 ms to 10 s: attestation and secret reads sit in the low buckets, slow TPM-bound work in the high ones. */
export const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export class PlatformMetrics extends Effect.Service<PlatformMetrics>()("@itl-attestation/metrics/PlatformMetrics", {
  effect: Effect.gen(function* () {
    const directory = yield* MachineDirectory
    const host = yield* HostEnvironment
    const runtime = yield* Effect.runtime<never>()
    const run = Runtime.runPromise(runtime)
    const registry = new client.Registry()
    const registers = [registry]

    const registrations = new client.Counter({
      name: "attestation_machine_registrations_total",
      help: "Machine registration requests, by outcome (registered: a new EK; known: a known EK again; refused: 4xx; error: 5xx)",
      labelNames: ["status"] as const,
      registers
    })
    const attestations = new client.Counter({
      name: "attestation_machine_attestations_total",
      help: "Machine attestation steps (activate, challenge, quote), by outcome (success, failure: refused, error: 5xx)",
      labelNames: ["action", "status"] as const,
      registers
    })
    const secretOperations = new client.Counter({
      name: "attestation_secret_operations_total",
      help: "Secret vault operations (create, get, list, update, delete, grant, revoke), by outcome (success, failure: refused, error: 5xx)",
      labelNames: ["operation", "status"] as const,
      registers
    })
    const auditEntries = new client.Counter({
      name: "attestation_audit_log_entries_total",
      help: "Audit log entries sealed into the chain by this instance, by action",
      labelNames: ["action"] as const,
      registers
    })
    const httpDuration = new client.Histogram({
      name: "attestation_http_request_duration_seconds",
      help: "HTTP request duration in seconds, by method, route template and status code",
      labelNames: ["method", "route", "status_code"] as const,
      buckets: HTTP_BUCKETS,
      registers
    })
    new client.Gauge({
      name: "attestation_build_info",
      help: "The platform's version (always 1)",
      labelNames: ["version"] as const,
      registers
    }).set({ version: host.coreVersion }, 1)

    // Computed at scrape time from the database: fleet-wide values, the same on every instance. When the
    // database does not answer, these have no samples for that scrape (scrapeGauge.ts).
    const read = <A>(effect: Effect.Effect<A>, samples: (value: A) => ReadonlyArray<Sample>) =>
      run(
        effect.pipe(
          Effect.map(samples),
          Effect.catchAllCause((cause) => Effect.as(Effect.logWarning("metrics: a database gauge could not be read", cause), undefined))
        )
      )
    registerScrapeGauge(registry, {
      name: "attestation_machines_by_status",
      help: "Machines in each status (every status, zeros included), counted in the database at scrape time",
      read: () => read(directory.countByStatus(), (counts) => Object.entries(counts).map(([status, value]) => ({ labels: { status }, value })))
    })
    registerScrapeGauge(registry, {
      name: "attestation_active_sessions",
      help: "Live machine sessions (unexpired, of approved or attested machines), counted in the database at scrape time",
      read: () => read(directory.liveSessions(), (value) => [{ labels: {}, value }])
    })

    client.collectDefaultMetrics({ register: registry })
    // prom-client also reports these three totals as gauges named `_total`, which promtool's lint refuses
    // (only counters end in `_total`); the same counts stay available, by type, as nodejs_active_handles,
    // nodejs_active_requests and nodejs_active_resources.
    for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) {
      registry.removeSingleMetric(name)
    }

    return { registry, registrations, attestations, secretOperations, auditEntries, httpDuration } as const
  })
}) {}
