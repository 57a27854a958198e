/**
 * `npm run bench:metrics`: what the metrics extension costs (docs/performance.md, "Metrics").
 *
 * 1. Scrape time of `GET /metrics` with BENCH_METRICS_SIZES machines (0, 10000, 100000) in the database:
 *    machines seeded in one INSERT … SELECT FROM generate_series (statuses in turn over all six, a session for
 *    each approved, attested or locked one, half of them live), then VACUUM ANALYZE. Per size: BENCH_SCRAPES
 *    sequential scrapes in each format (text 0.0.4 and OpenMetrics, as Prometheus asks for it), median and p99
 *    from the bench process, bytes, the server's CPU per scrape (+ PostgreSQL's); and the two gauge statements
 *    alone on one connection, before and after the VACUUM ANALYZE, with what their plans read of `machines`.
 *    Every scrape's gauges are checked against counts made another way.
 * 2. The HTTP histogram's per-request cost: the same server with [secretVault, webhooks] and with
 *    [secretVault, webhooks, metrics], BENCH_ROUNDS alternating runs each (A B A B …, a fresh process per run),
 *    on `GET /healthz` and on `GET /api/v1/machines/{id}` with an operator token (a random seeded machine per
 *    request), BENCH_CONNECTIONS connections; medians → ratio with/without, CPU per request.
 *
 * Databases as bench/throughput.js: PGlite (unless BENCH_EMBEDDED=0), PostgreSQL when BENCH_DATABASE_URL is
 * set (a fresh database, dropped afterwards). Settings: BENCH_DURATION (10), BENCH_WARMUP (2),
 * BENCH_CONNECTIONS (32), BENCH_ROUNDS (3), BENCH_SCRAPES (50), BENCH_METRICS_SIZES (0,10000,100000).
 * Prints the tables; results also in bench/results/metrics-<db>.json. Exits 1, after printing, if a request
 * failed or a gauge disagreed with the database. Asserts nothing about speed.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { HTTP_BUCKETS } from "@itl-attestation/metrics"
import * as client from "prom-client"
import { startChild } from "./lib/child.js"
import { cpuWindow } from "./lib/cpu.js"
import { benchedDatabases } from "./lib/database.js"
import { measure, percentile } from "./lib/load.js"
import { printMetricsReport } from "./lib/metricsReport.js"
import { expectedCounts, seedMachines, STATUSES, timeGaugeStatements, withDatabase } from "./lib/metricsSeed.js"
import { watchOtherWork } from "./lib/quiet.js"
import { setting } from "./lib/setting.js"
import { createOperatorToken } from "./lib/setup.js"
import { reportProblems } from "./lib/problems.js"

const DURATION = setting("BENCH_DURATION", 10)
const WARMUP = setting("BENCH_WARMUP", 2)
const CONNECTIONS = setting("BENCH_CONNECTIONS", 32)
const ROUNDS = setting("BENCH_ROUNDS", 3)
const SCRAPES = setting("BENCH_SCRAPES", 50)
const SIZES = (process.env.BENCH_METRICS_SIZES ?? "0,10000,100000").split(",").map((s) => {
  const n = Number(s.trim())
  if (!Number.isInteger(n) || n < 0) throw new Error("BENCH_METRICS_SIZES must be ascending whole numbers, e.g. 0,10000,100000")
  return n
})
if (SIZES.some((n, i) => i > 0 && n < SIZES[i - 1])) throw new Error("BENCH_METRICS_SIZES must be ascending")
if (SIZES[SIZES.length - 1] < 1) throw new Error("BENCH_METRICS_SIZES: the last must be at least 1 (the GET of the histogram runs picks among the seeded machines)")
const SCRAPE_WARMUP = 5
const SERVER = fileURLToPath(new URL("./lib/metricsServer.js", import.meta.url))
const WITHOUT = ["secretVault", "webhooks"]
const WITH = ["secretVault", "webhooks", "metrics"]
/** What Prometheus 2.x/3.x sends: OpenMetrics first. */
const PROMETHEUS_ACCEPT =
  "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
const FORMATS = { text: "text/plain", openmetrics: PROMETHEUS_ACCEPT }
const OTHER_WORK_WARNING_PERCENT = 5
const log = (line) => console.error(`[bench] ${line}`)
const warnings = []
const problems = []

const median = (values) => {
  const sorted = values.filter((v) => v !== undefined && !Number.isNaN(v)).sort((a, b) => a - b)
  return sorted.length === 0 ? undefined : percentile(sorted, 0.5)
}

/** The gauges of one exposition: { byStatus: { status: n }, live }. */
const gaugesOf = (text) => {
  const byStatus = {}
  for (const [, status, value] of text.matchAll(/^attestation_machines_by_status\{status="([a-z_]+)"\} (\S+)$/gm)) byStatus[status] = Number(value)
  const live = /^attestation_active_sessions (\S+)$/m.exec(text)
  return { byStatus, live: live === null ? undefined : Number(live[1]) }
}

/**
 * Before scraping, a little ordinary traffic so the request histogram has the series an operator's would
 * (a few routes, 200/401/404), then the scrapes of each format, one at a time.
 */
const scrapeServer = async (server, database, data, expected, size) => {
  const get = (path, token) => fetch(server.url + path, { headers: token ? { authorization: `Bearer ${token}` } : {} }).then((r) => r.arrayBuffer())
  for (let i = 0; i < 3; i++) {
    await get("/healthz")
    await get("/readyz")
    if (data.ids.length > 0) await get(`/api/v1/machines/${data.ids[i % data.ids.length]}`, data.operatorToken)
    await get(`/api/v1/machines/${crypto.randomUUID()}`, data.operatorToken)
    await get("/api/v1/machines?limit=10", data.operatorToken)
    await get("/api/v1/machines?limit=10")
  }
  const out = {}
  for (const [format, accept] of Object.entries(FORMATS)) {
    const scrape = async () => {
      const start = performance.now()
      const response = await fetch(`${server.url}/metrics`, { headers: { accept } })
      const body = Buffer.from(await response.arrayBuffer())
      const ms = performance.now() - start
      if (response.status !== 200) throw new Error(`GET /metrics (${format}): ${response.status} ${body.toString().slice(0, 200)}`)
      return { ms, body }
    }
    for (let i = 0; i < SCRAPE_WARMUP; i++) await scrape()
    const cpu = cpuWindow([server.pid], database.name)
    const otherWork = watchOtherWork([server.pid], database.name)
    const times = []
    let last
    let disagreements = 0
    cpu.start()
    for (let i = 0; i < SCRAPES; i++) {
      const { ms, body } = await scrape()
      times.push(ms)
      last = body
      const gauges = gaugesOf(body.toString())
      if (gauges.live !== expected.live || STATUSES.some((s) => gauges.byStatus[s] !== expected.byStatus[s])) disagreements++
    }
    cpu.end()
    const percent = otherWork()
    if (percent !== undefined && percent > OTHER_WORK_WARNING_PERCENT) {
      warnings.push(`${database.kind} ${size} machines, ${format} scrapes: other processes used ${percent.toFixed(0)}% of the machine's CPU time meanwhile`)
    }
    if (disagreements > 0) {
      problems.push(`${database.kind} ${size} machines: ${disagreements} ${format} scrape(s) whose gauges differ from the database ` +
        `(expected ${JSON.stringify(expected)}, last ${JSON.stringify(gaugesOf(last.toString()))})`)
    }
    times.sort((a, b) => a - b)
    const { targetMs, databaseMs } = cpu.result()
    const text = last.toString()
    out[format] = {
      p50Ms: percentile(times, 0.5),
      p99Ms: percentile(times, 0.99),
      bytes: last.length,
      samples: text.split("\n").filter((line) => line !== "" && !line.startsWith("#")).length,
      cpuMsPerScrape: targetMs === undefined ? undefined : targetMs / SCRAPES,
      databaseCpuMsPerScrape: databaseMs === undefined ? undefined : databaseMs / SCRAPES
    }
  }
  return out
}

const ROUTES = {
  healthz: (data) => ({ method: "GET", next: () => ({ path: "/healthz" }), check: (body) => body.includes('"ok"') }),
  get: (data) => ({
    method: "GET",
    headers: { authorization: `Bearer ${data.operatorToken}` },
    next: () => ({ path: `/api/v1/machines/${data.ids[Math.floor(Math.random() * data.ids.length)]}` }),
    check: (body) => {
      try {
        return typeof JSON.parse(body).id === "string"
      } catch {
        return false
      }
    }
  })
}
const ROUTE_TITLES = { healthz: "GET /healthz", get: "GET /api/v1/machines/{id} (operator token)" }

/** One run of the histogram comparison: a fresh server with `extensions`, each route measured in turn. */
const histogramRun = async (env, extensions, database, data, label) => {
  const server = await startChild(SERVER, { extensions, env })
  try {
    const out = {}
    for (const [route, loadOf] of Object.entries(ROUTES)) {
      const load = loadOf(data)
      const first = await fetch(server.url + load.next().path, { headers: load.headers ?? {} })
      const body = await first.text()
      if (first.status !== 200 || !load.check(body)) throw new Error(`${label} ${route}: preflight answered ${first.status} ${body.slice(0, 200)}`)
      const cpu = cpuWindow([server.pid], database.name)
      const otherWork = watchOtherWork([server.pid], database.name)
      const { latencies, ...figures } = await measure({ url: server.url, connections: CONNECTIONS, warmupSeconds: WARMUP, durationSeconds: DURATION, window: cpu, ...load })
      const percent = otherWork()
      if (percent !== undefined && percent > OTHER_WORK_WARNING_PERCENT) {
        warnings.push(`${database.kind} ${label} ${route}: other processes used ${percent.toFixed(0)}% of the machine's CPU time meanwhile`)
      }
      for (const problem of figures.problems) problems.push(`${database.kind} ${label} ${route}: ${problem}`)
      const { targetMs, databaseMs } = cpu.result()
      const per = (ms) => (ms === undefined || figures.responses === 0 ? undefined : ms / figures.responses)
      out[route] = { ...figures, problems: undefined, cpuMsPerRequest: per(targetMs), databaseCpuMsPerRequest: per(databaseMs) }
    }
    return out
  } finally {
    await server.stop()
  }
}

const benchDatabase = async (database) => {
  log(`database: ${database.kind}`)
  const adminToken = `bench-admin-${crypto.randomBytes(16).toString("hex")}`
  const env = {
    ITL_PORT: "0", ITL_HOST: "127.0.0.1", ITL_ADMIN_TOKEN: adminToken, ITL_REGISTRATION_LIMIT: "0",
    ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex"), ITL_MASTER_KEY: crypto.randomBytes(32).toString("hex"),
    ...database.serverEnv
  }
  const outcome = {
    database: database.kind,
    settings: { duration: DURATION, warmup: WARMUP, connections: CONNECTIONS, rounds: ROUNDS, scrapes: SCRAPES, sizes: SIZES },
    scrapes: [],
    histogram: { without: [], with: [] }
  }

  log("starting the server once to migrate the database and make an operator token")
  const first = await startChild(SERVER, { extensions: WITH, env })
  const data = { ids: [] }
  try {
    data.operatorToken = await createOperatorToken(first.url, adminToken)
  } finally {
    await first.stop()
  }
  // The table is filled in bulk and measured as it stands: autovacuum (PostgreSQL) must not tidy it up meanwhile.
  await withDatabase(database, async (client) => {
    await client.query("ALTER TABLE machines SET (autovacuum_enabled = false)")
    await client.query("ALTER TABLE machine_sessions SET (autovacuum_enabled = false)")
  })

  let seeded = 0
  for (const size of SIZES) {
    log(`${size} machines: seeding, timing the gauge statements`)
    const sql = await withDatabase(database, async (client) => {
      const start = performance.now()
      await seedMachines(client, seeded, size)
      const seedSeconds = (performance.now() - start) / 1000
      seeded = size
      const asInserted = await timeGaugeStatements(client)
      await client.query("VACUUM ANALYZE machines")
      await client.query("VACUUM ANALYZE machine_sessions")
      const vacuumed = await timeGaugeStatements(client)
      const expected = await expectedCounts(client)
      data.ids = (await client.query("SELECT id FROM machines ORDER BY random() LIMIT 1000")).rows.map((r) => r.id)
      return { seedSeconds, asInserted, vacuumed, expected }
    })
    for (const [name, timing] of Object.entries(sql.vacuumed)) log(`${size} machines, ${name}, after VACUUM ANALYZE:\n    ${timing.plan.join("\n    ")}`)
    log(`${size} machines: ${SCRAPES} scrapes per format`)
    const server = await startChild(SERVER, { extensions: WITH, env })
    let scrapes
    try {
      scrapes = await scrapeServer(server, database, data, sql.expected, size)
    } finally {
      await server.stop()
    }
    outcome.scrapes.push({ machines: size, ...sql, scrapes })
  }

  for (let round = 1; round <= ROUNDS; round++) {
    for (const [label, extensions] of [["without", WITHOUT], ["with", WITH]]) {
      log(`histogram, round ${round}/${ROUNDS}: ${label} metrics, ${Object.keys(ROUTES).join(" and ")}, ${WARMUP} s warm-up + ${DURATION} s measured each`)
      outcome.histogram[label].push(await histogramRun(env, extensions, database, data, `${label} metrics round ${round}`))
    }
  }
  outcome.histogram.summary = Object.fromEntries(Object.keys(ROUTES).map((route) => {
    const of = (label, field) => median(outcome.histogram[label].map((run) => run[route][field]))
    const without = of("without", "requestsPerSecond")
    const withMetrics = of("with", "requestsPerSecond")
    return [route, {
      without: { requestsPerSecond: without, p50Ms: of("without", "p50Ms"), p99Ms: of("without", "p99Ms"), cpuMsPerRequest: of("without", "cpuMsPerRequest"), databaseCpuMsPerRequest: of("without", "databaseCpuMsPerRequest") },
      with: { requestsPerSecond: withMetrics, p50Ms: of("with", "p50Ms"), p99Ms: of("with", "p99Ms"), cpuMsPerRequest: of("with", "cpuMsPerRequest"), databaseCpuMsPerRequest: of("with", "databaseCpuMsPerRequest") },
      ratio: without === undefined || withMetrics === undefined ? undefined : withMetrics / without,
      cpuRatio: of("without", "cpuMsPerRequest") === undefined ? undefined : of("with", "cpuMsPerRequest") / of("without", "cpuMsPerRequest")
    }]
  }))
  return outcome
}

/**
 * The histogram's own share of a request, in isolation: one `observe` on a child made once, as
 * packages/metrics/src/feeds/requests.ts keeps them (prom-client still validates and hashes the labels on
 * every call), with the extension's buckets; µs per observation over a million, after as many untimed.
 */
const observeMicroseconds = () => {
  const histogram = new client.Histogram({ name: "bench_observe_seconds", help: "bench", labelNames: ["method", "route", "status_code"], buckets: HTTP_BUCKETS, registers: [] })
  const child = histogram.labels({ method: "GET", route: "/api/v1/machines/:id", status_code: "200" })
  const N = 1_000_000
  for (let i = 0; i < N; i++) child.observe((i % 1000) / 10000)
  const start = process.hrtime.bigint()
  for (let i = 0; i < N; i++) child.observe((i % 1000) / 10000)
  return Number(process.hrtime.bigint() - start) / 1000 / N
}

const main = async () => {
  const started = performance.now()
  console.log(`ITL attestation bench, metrics: scrapes at ${SIZES.join(", ")} machines (${SCRAPES} per format); the HTTP histogram's cost, ` +
    `${ROUNDS} alternating runs each, ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s measured per figure`)
  console.log(`machine: ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? "unknown CPU"}), node ${process.version}`)
  const databases = benchedDatabases()

  fs.mkdirSync(new URL("./results/", import.meta.url), { recursive: true })
  for (const [short, makeDatabase] of databases) {
    const database = await makeDatabase()
    try {
      const outcome = await benchDatabase(database)
      printMetricsReport(outcome, ROUTE_TITLES)
      fs.writeFileSync(new URL(`./results/metrics-${short}.json`, import.meta.url), JSON.stringify(outcome, null, 2) + "\n")
    } finally {
      await database.cleanup()
    }
  }
  console.log(`\nprom-client Histogram observe on a cached child (the histogram alone, in the bench process): ${observeMicroseconds().toFixed(3)} µs per request`)
  console.log(`\nthe run took ${((performance.now() - started) / 60000).toFixed(1)} min`)
  if (warnings.length > 0) {
    console.log("\nWarnings (figures taken while other processes used the CPU are low):")
    for (const warning of warnings) console.log(`  - ${warning}`)
  }
  reportProblems(problems)
}

main().catch((error) => {
  console.error("bench failed:", error)
  process.exitCode = 1
})
