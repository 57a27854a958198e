/**
 * @itl-attestation/metrics — the `metrics` extension: a Prometheus exposition
 * at `GET /metrics`, on its own prom-client registry, fed from the core's
 * events, its per-request hook, the audit sealer and the counters other
 * extensions declare (docs/metrics.md).
 */
import { defineExtension, serveApi } from "@itl-attestation/core"
import { Layer } from "effect"
import { AuditEntriesFeed } from "./feeds/audit.js"
import { EventFeed } from "./feeds/events.js"
import { MeasurementsFeed } from "./feeds/measurements.js"
import { RequestFeed } from "./feeds/requests.js"
import { MetricsApi } from "./MetricsApi.js"
import { MetricsSettings } from "./MetricsConfig.js"
import { MetricsHttp } from "./MetricsHttp.js"
import { PlatformMetrics } from "./PlatformMetrics.js"

export const metrics = defineExtension({
  name: "metrics",
  version: "1.0.0",
  description: "Prometheus metrics exporter for operational monitoring",
  core: "^2.0.0",
  layer: Layer.mergeAll(RequestFeed, EventFeed, AuditEntriesFeed, MeasurementsFeed).pipe(
    Layer.provideMerge(Layer.merge(PlatformMetrics.Default, MetricsSettings.Default))
  ),
  apis: [serveApi(MetricsApi, MetricsHttp, { challenge: 'Bearer realm="metrics"' })]
})

export default metrics
export { MetricsApi } from "./MetricsApi.js"
export { HTTP_BUCKETS } from "./PlatformMetrics.js"
