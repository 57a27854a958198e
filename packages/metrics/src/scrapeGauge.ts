/**
 * A gauge whose samples are read when Prometheus scrapes, from the database.
 * Unlike a prom-client Gauge (whose unlabelled form always holds a value), a
 * read that fails gives no samples at all: the series has a gap for that
 * scrape instead of a zero that would look like a fact, and the rest of the
 * scrape is still served. The registry only asks a metric for its name, help,
 * type and `get()`; this is that, and nothing more.
 */
import type * as client from "prom-client"

export interface Sample {
  readonly labels: Record<string, string>
  readonly value: number
}

export const registerScrapeGauge = (
  registry: client.Registry,
  definition: { readonly name: string; readonly help: string; readonly read: () => Promise<ReadonlyArray<Sample> | undefined> }
) => {
  const { name, help } = definition
  const metric = {
    name,
    help,
    type: "gauge",
    aggregator: "omit",
    get: async () => ({
      name,
      help,
      type: "gauge",
      aggregator: "omit",
      values: [...((await definition.read()) ?? [])]
    })
  }
  registry.registerMetric(metric as unknown as client.Metric)
}
