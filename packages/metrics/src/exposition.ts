/**
 * Renders the registry in the format the scraper asks for: the Prometheus
 * text format 0.0.4 by default, OpenMetrics 1.0.0 when the Accept header
 * prefers `application/openmetrics-text` (Prometheus itself asks for it first).
 *
 * prom-client fixes a registry's format when it is made, and rendering a
 * registry as OpenMetrics renames its counters in place (it drops `_total`
 * from the metric's name, so a later text-format scrape would print them
 * without it). So the OpenMetrics view is a fresh registry of thin views
 * over the same metrics, made per scrape: the views take the renaming, the
 * metrics keep their names, and every increment is recorded once.
 *
 * Exemplars are off: no series carries them, in either format.
 */
import Negotiator from "negotiator"
import * as client from "prom-client"

export const PROMETHEUS_TEXT = client.Registry.PROMETHEUS_CONTENT_TYPE
export const OPENMETRICS_TEXT = client.Registry.OPENMETRICS_CONTENT_TYPE

/**
 * With and without the version parameter: a client that names a version
 * matches only an offer of that version (Prometheus asks for OpenMetrics
 * 1.0.0, then 0.0.1, then text 0.0.4). The text format is offered first, so it
 * wins ties, `*\/*` and a missing Accept.
 */
const OFFERED = ["text/plain", "text/plain; version=0.0.4", "application/openmetrics-text", "application/openmetrics-text; version=1.0.0"]

export const prefersOpenMetrics = (accept: string | undefined) =>
  accept !== undefined && (new Negotiator({ headers: { accept } }).mediaType(OFFERED) ?? "").startsWith("application/openmetrics-text")

interface Renderable {
  name: string
  readonly help: string
  readonly type: string
  readonly aggregator: string
  get(): Promise<unknown>
  getForPromString?(): Promise<unknown>
}

/**
 * A view that renders like the metric under the name the OpenMetrics registry
 * gives it (counters lose `_total`, which the renderer adds back to each
 * sample): the registry renames the view, and the view reports that name.
 */
const viewOf = (metric: Renderable) => {
  const view: Renderable = {
    name: metric.name,
    help: metric.help,
    type: metric.type,
    aggregator: metric.aggregator,
    get: async () => ({ ...((await metric.get()) as object), name: view.name }),
    ...(typeof metric.getForPromString === "function"
      ? { getForPromString: async () => ({ ...((await metric.getForPromString!()) as object), name: view.name }) }
      : {})
  }
  return view
}

export const render = async (registry: client.Registry, accept: string | undefined) => {
  if (!prefersOpenMetrics(accept)) return { contentType: PROMETHEUS_TEXT, body: await registry.metrics() }
  const openMetrics = new client.Registry<client.OpenMetricsContentType>()
  openMetrics.setContentType(OPENMETRICS_TEXT)
  for (const metric of registry.getMetricsAsArray()) {
    openMetrics.registerMetric(viewOf(metric as unknown as Renderable) as unknown as client.Metric)
  }
  return { contentType: OPENMETRICS_TEXT, body: await openMetrics.metrics() }
}
