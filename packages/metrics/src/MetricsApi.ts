/** `GET /metrics`: the Prometheus exposition. Open, unless ITL_METRICS_TOKEN is set (then `Authorization: Bearer`). */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Unauthorized } from "@itl-attestation/core/api"
import { Schema } from "effect"

const Exposition = Schema.String.pipe(
  HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/plain; version=0.0.4; charset=utf-8" }),
  Schema.annotations({ description: "Prometheus text format 0.0.4, or OpenMetrics 1.0.0 when Accept prefers application/openmetrics-text" })
)

export class MetricsGroup extends HttpApiGroup.make("metrics")
  .add(
    HttpApiEndpoint.get("scrape", "/metrics")
      .addSuccess(Exposition)
      .addError(Unauthorized)
      .annotate(OpenApi.Summary, "Prometheus metrics")
      .annotate(
        OpenApi.Description,
        "Open unless ITL_METRICS_TOKEN is set; then `Authorization: Bearer <ITL_METRICS_TOKEN>` is required (401 otherwise). " +
          "Counters are this instance's; attestation_machines_by_status and attestation_active_sessions are read from the database at scrape time."
      )
  ) {}

export const MetricsApi = HttpApi.make("metrics").add(MetricsGroup)
