/** The metrics bench's tables (bench/metrics.js): scrapes, the gauge statements alone, the histogram's cost. */
const num = (value, digits) => (value === undefined || Number.isNaN(value) ? "—" : value.toFixed(digits))
const pair = (a, b, digits) => `${num(a, digits)} / ${num(b, digits)}`
const cpu = (target, database, digits = 2) => (database === undefined ? num(target, digits) : `${num(target, digits)} + ${num(database, digits)}`)

const table = (header, rows) => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`
  console.log(line(header))
  console.log(`|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|")}|`)
  for (const row of rows) console.log(line(row))
}

export const printMetricsReport = (outcome, routeTitles) => {
  const db = outcome.database.startsWith("PostgreSQL") ? " (+ db)" : ""
  console.log(`\n${outcome.database}: GET /metrics, ${outcome.settings.scrapes} sequential scrapes per format (text 0.0.4 / OpenMetrics)`)
  table(
    ["machines", "scrape p50 ms", "scrape p99 ms", "bytes", "samples", `server CPU ms/scrape${db}`],
    outcome.scrapes.map((s) => [
      String(s.machines),
      pair(s.scrapes.text.p50Ms, s.scrapes.openmetrics.p50Ms, 1),
      pair(s.scrapes.text.p99Ms, s.scrapes.openmetrics.p99Ms, 1),
      `${s.scrapes.text.bytes} / ${s.scrapes.openmetrics.bytes}`,
      `${s.scrapes.text.samples} / ${s.scrapes.openmetrics.samples}`,
      `${cpu(s.scrapes.text.cpuMsPerScrape, s.scrapes.text.databaseCpuMsPerScrape)} / ${cpu(s.scrapes.openmetrics.cpuMsPerScrape, s.scrapes.openmetrics.databaseCpuMsPerScrape)}`
    ])
  )
  console.log(`\n${outcome.database}: the gauge statements alone, one connection, as inserted / after VACUUM ANALYZE: median ms, and what the plan reads of machines (×: loops)`)
  const reads = (before, after) => `${before.machineScans.join("; ")} / ${after.machineScans.join("; ")}`
  table(
    ["machines", "seed s", "count by status ms", "its reads of machines", "live sessions ms", "its reads of machines "],
    outcome.scrapes.map((s) => [
      String(s.machines),
      num(s.seedSeconds, 1),
      pair(s.asInserted.byStatus.medianMs, s.vacuumed.byStatus.medianMs, 2),
      reads(s.asInserted.byStatus, s.vacuumed.byStatus),
      pair(s.asInserted.liveSessions.medianMs, s.vacuumed.liveSessions.medianMs, 2),
      reads(s.asInserted.liveSessions, s.vacuumed.liveSessions)
    ])
  )
  const h = outcome.histogram
  console.log(`\n${outcome.database}: the HTTP histogram's cost, [secretVault, webhooks] without / with metrics, ${outcome.settings.rounds} alternating runs, medians`)
  table(
    ["route", "req/s without (runs)", "req/s with (runs)", "ratio with/without", "p50/p99 ms without", "p50/p99 ms with", `CPU ms/req without / with${db}`, "CPU with/without"],
    Object.entries(h.summary).map(([route, s]) => [
      routeTitles[route],
      `${num(s.without.requestsPerSecond, 0)} (${h.without.map((r) => num(r[route].requestsPerSecond, 0)).join(", ")})`,
      `${num(s.with.requestsPerSecond, 0)} (${h.with.map((r) => num(r[route].requestsPerSecond, 0)).join(", ")})`,
      num(s.ratio, 3),
      pair(s.without.p50Ms, s.without.p99Ms, 1),
      pair(s.with.p50Ms, s.with.p99Ms, 1),
      `${cpu(s.without.cpuMsPerRequest, s.without.databaseCpuMsPerRequest, 3)} / ${cpu(s.with.cpuMsPerRequest, s.with.databaseCpuMsPerRequest, 3)}`,
      num(s.cpuRatio, 3)
    ])
  )
}
