/**
 * `npm run bench`: requests/s and p99 latency of the real server for
 *   1. GET  /api/v1/machines/{id}        (operator bearer token, random registered id)
 *   2. POST /api/v1/machines/register    (a fresh EK public key and hostname per request)
 * each beside a FLOOR measured in the same run: a bare node:http server
 * issuing the same SQL through `pg` on the same database (bench/lib/floor.js).
 *
 * Databases: the embedded PGlite always; PostgreSQL too when BENCH_DATABASE_URL
 * is set (a fresh database is created on that server and dropped afterwards).
 * Settings (environment): BENCH_DURATION (s, 10), BENCH_WARMUP (s, 2),
 * BENCH_CONNECTIONS (32), BENCH_MACHINES (1000), BENCH_KEYS (EK keys
 * pre-generated per registration run, 15000).
 *
 * Exits 1, after printing the figures, if any request failed.
 * Everything listens on, and is loaded through, 127.0.0.1 only.
 */
import * as crypto from "node:crypto"
import * as os from "node:os"
import { fileURLToPath } from "node:url"
import { startChild } from "./lib/child.js"
import { embeddedDatabase, postgresDatabase } from "./lib/database.js"
import { generateEkPems } from "./lib/keys.js"
import { measure } from "./lib/load.js"
import { watchOtherWork } from "./lib/quiet.js"
import { createOperatorToken, registerMachines } from "./lib/setup.js"
import { setting } from "./lib/setting.js"
import { reportProblems } from "./lib/problems.js"

const DURATION = setting("BENCH_DURATION", 10)
const WARMUP = setting("BENCH_WARMUP", 2)
const CONNECTIONS = setting("BENCH_CONNECTIONS", 32)
const MACHINES = setting("BENCH_MACHINES", 1000)
const KEYS = setting("BENCH_KEYS", 15000)

const SERVER_PROGRAM = fileURLToPath(new URL("./lib/server.js", import.meta.url))
const FLOOR_PROGRAM = fileURLToPath(new URL("./lib/floor.js", import.meta.url))
const log = (line) => console.error(`[bench] ${line}`)
const OTHER_WORK_WARNING_PERCENT = 5
const warnings = []

/** Measures, and notes when other processes took a share of the cores meanwhile. */
const measureWatching = async (what, target, options) => {
  const otherWork = watchOtherWork([target.pid], target.database)
  const figures = await measure(options)
  const percent = otherWork()
  if (percent !== undefined && percent > OTHER_WORK_WARNING_PERCENT) {
    warnings.push(`${what}: other processes used ${percent.toFixed(0)}% of the machine's CPU time meanwhile`)
  }
  return figures
}

/** The two scenarios, run against whichever system (server or floor) `target` is. */
const runScenarios = async (label, target, { token, machineIds, hostnamePrefix }) => {
  const common = { url: target.url, connections: CONNECTIONS, warmupSeconds: WARMUP, durationSeconds: DURATION }
  const figures = {}

  log(`${label}: GET /api/v1/machines/{id}, ${WARMUP} s warm-up + ${DURATION} s measured`)
  figures.get = await measureWatching(`${label} GET`, target, {
    ...common,
    method: "GET",
    headers: { authorization: `Bearer ${token}` },
    next: () => ({ path: `/api/v1/machines/${machineIds[Math.floor(Math.random() * machineIds.length)]}` })
  })

  log(`${label}: generating ${KEYS} EC P-256 keys`)
  const pems = generateEkPems(KEYS)
  let used = 0
  log(`${label}: POST /api/v1/machines/register, ${WARMUP} s warm-up + ${DURATION} s measured`)
  figures.register = await measureWatching(`${label} register`, target, {
    ...common,
    method: "POST",
    headers: { "content-type": "application/json" },
    next: () => {
      if (used === pems.length) return undefined
      const i = used++
      return { path: "/api/v1/machines/register", body: JSON.stringify({ ek_public: pems[i], hostname: `${hostnamePrefix}${i}` }) }
    },
    check: (body) => body.includes('"created":true')
  })
  log(`${label}: ${used} keys used`)
  return figures
}

const benchDatabase = async (database) => {
  log(`database: ${database.kind}`)
  const adminToken = `bench-admin-${crypto.randomBytes(16).toString("hex")}`
  // Every registration comes from this one address: the per-address limit on new EKs is off for the bench.
  const serverEnv = { ITL_PORT: "0", ITL_HOST: "127.0.0.1", ITL_ADMIN_TOKEN: adminToken, ITL_REGISTRATION_LIMIT: "0", ...database.serverEnv }

  log("starting the server (first start of a database migrates it)")
  const server = await startChild(SERVER_PROGRAM, serverEnv)
  let serverFigures, token, machineIds
  try {
    token = await createOperatorToken(server.url, adminToken)
    log(`registering ${MACHINES} machines`)
    machineIds = await registerMachines(server.url, MACHINES)
    serverFigures = await runScenarios(`${database.kind}, server`, { ...server, database: database.name }, {
      token, machineIds, hostnamePrefix: "bench-reg-server-"
    })
  } finally {
    await server.stop()
  }

  // The server is stopped first: PGlite allows one process per data directory,
  // and on 2 cores an idle-but-present server would not be a fair neighbour anyway.
  log("starting the floor")
  const floor = await startChild(FLOOR_PROGRAM, { ...database.floorConfig, resetHostnamePrefix: "bench-reg-" })
  let floorFigures
  try {
    floorFigures = await runScenarios(`${database.kind}, floor`, { ...floor, database: database.name }, {
      token, machineIds, hostnamePrefix: "bench-reg-floor-"
    })
  } finally {
    await floor.stop()
  }
  return { kind: database.kind, server: serverFigures, floor: floorFigures }
}

const printTable = (outcome) => {
  const rows = [
    ["GET /api/v1/machines/{id}", "get"],
    ["POST /api/v1/machines/register", "register"]
  ].map(([scenario, key]) => {
    const s = outcome.server[key]
    const f = outcome.floor[key]
    return [scenario, s.requestsPerSecond.toFixed(0), f.requestsPerSecond.toFixed(0),
      (s.requestsPerSecond / f.requestsPerSecond).toFixed(2), s.p99Ms.toFixed(1), f.p99Ms.toFixed(1)]
  })
  const header = ["scenario", "server req/s", "floor req/s", "ratio (server/floor)", "server p99 ms", "floor p99 ms"]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`
  console.log(`\n${outcome.kind}`)
  console.log(line(header))
  console.log(`|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|")}|`)
  for (const row of rows) console.log(line(row))
}

const main = async () => {
  console.log(`ITL attestation bench: ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s measured per figure`)
  console.log(`machine: ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? "unknown CPU"}), node ${process.version}`)
  const targets = [() => embeddedDatabase()]
  const url = process.env.BENCH_DATABASE_URL
  if (url) targets.push(() => postgresDatabase(url))
  else log("BENCH_DATABASE_URL is not set: PostgreSQL is skipped")

  const problems = []
  for (const makeDatabase of targets) {
    const database = await makeDatabase()
    try {
      const outcome = await benchDatabase(database)
      printTable(outcome)
      for (const side of ["server", "floor"]) {
        for (const [scenario, figures] of Object.entries(outcome[side])) {
          for (const problem of figures.problems) problems.push(`${outcome.kind} ${side} ${scenario} ${problem}`)
        }
      }
    } finally {
      await database.cleanup()
    }
  }
  if (warnings.length > 0) {
    console.log("\nWarnings (figures taken while other processes used the CPU are low):")
    for (const warning of warnings) console.log(`  - ${warning}`)
  }
  reportProblems(problems, " during load")
}

main().catch((error) => {
  console.error("bench failed:", error)
  process.exitCode = 1
})
