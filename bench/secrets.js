/**
 * `npm run bench:secrets`: shared-secret reads per second —
 * GET /api/v1/shared-secrets/by-name/{name}/value with the secret_vault
 * extension loaded — beside a FLOOR measured in the same run: a bare node:http
 * server issuing the same SQL through `pg` on the same database and opening the
 * value with the same key (bench/lib/secretsFloor.js).
 *
 * Machines authenticate with ITL_MACHINE_AUTH=ek-fingerprint-header (the
 * X-EK-Fingerprint header alone): a machine session needs a TPM. Setup goes
 * through the real API: BENCH_SECRET_MACHINES machines registered and approved,
 * one shared secret "bench-secret" (1 KiB value) granted to all of them. Each
 * request is made as a machine chosen at random.
 *
 * Databases, and the other settings (BENCH_DURATION, BENCH_WARMUP,
 * BENCH_CONNECTIONS), as bench/run.js. Exits 1, after printing the figures, if
 * any request failed. Everything listens on, and is loaded through, 127.0.0.1 only.
 */
import * as crypto from "node:crypto"
import * as os from "node:os"
import { fileURLToPath } from "node:url"
import { startChild } from "./lib/child.js"
import { embeddedDatabase, postgresDatabase } from "./lib/database.js"
import { measure } from "./lib/load.js"
import { watchOtherWork } from "./lib/quiet.js"
import { registerMachines } from "./lib/setup.js"
import { setting } from "./lib/setting.js"
import { reportProblems } from "./lib/problems.js"

const DURATION = setting("BENCH_DURATION", 10)
const WARMUP = setting("BENCH_WARMUP", 2)
const CONNECTIONS = setting("BENCH_CONNECTIONS", 32)
const MACHINES = setting("BENCH_SECRET_MACHINES", 100)
const SECRET_NAME = "bench-secret"

const SERVER_PROGRAM = fileURLToPath(new URL("./lib/serverWithSecretVault.js", import.meta.url))
const FLOOR_PROGRAM = fileURLToPath(new URL("./lib/secretsFloor.js", import.meta.url))
const log = (line) => console.error(`[bench] ${line}`)
const OTHER_WORK_WARNING_PERCENT = 5
const warnings = []

const call = async (url, method, path, token, body) => {
  const response = await fetch(url + path, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const json = await response.json().catch(() => undefined)
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`)
  return json
}

/** Machines registered, approved and granted the secret; returns their EK fingerprints and the value. */
const setUp = async (url, adminToken) => {
  log(`registering and approving ${MACHINES} machines`)
  const ids = await registerMachines(url, MACHINES)
  const fingerprints = []
  for (const id of ids) fingerprints.push((await call(url, "POST", `/api/v1/machines/${id}/approve`, adminToken, {})).ek_fingerprint)
  const value = crypto.randomBytes(768).toString("base64") // 1024 characters
  const secret = await call(url, "POST", "/api/v1/shared-secrets", adminToken, { name: SECRET_NAME, value })
  const granted = await call(url, "POST", `/api/v1/shared-secrets/${secret.shared_secret_id}/access`, adminToken, { machine_ids: ids })
  if (granted.total !== MACHINES) throw new Error(`granted ${granted.total} machines, expected ${MACHINES}`)
  return { fingerprints, value }
}

const measureReads = async (label, target, { fingerprints, value }) => {
  log(`${label}: GET /api/v1/shared-secrets/by-name/${SECRET_NAME}/value, ${WARMUP} s warm-up + ${DURATION} s measured`)
  const otherWork = watchOtherWork([target.pid], target.database)
  const figures = await measure({
    url: target.url,
    connections: CONNECTIONS,
    warmupSeconds: WARMUP,
    durationSeconds: DURATION,
    method: "GET",
    next: () => ({
      path: `/api/v1/shared-secrets/by-name/${SECRET_NAME}/value`,
      headers: { "x-ek-fingerprint": fingerprints[Math.floor(Math.random() * fingerprints.length)] }
    }),
    check: (body) => body.includes(value)
  })
  const percent = otherWork()
  if (percent !== undefined && percent > OTHER_WORK_WARNING_PERCENT) {
    warnings.push(`${label}: other processes used ${percent.toFixed(0)}% of the machine's CPU time meanwhile`)
  }
  return figures
}

const benchDatabase = async (database) => {
  log(`database: ${database.kind}`)
  const adminToken = `bench-admin-${crypto.randomBytes(16).toString("hex")}`
  const sharedMasterKey = crypto.randomBytes(32).toString("hex")
  const serverEnv = {
    ITL_PORT: "0",
    ITL_HOST: "127.0.0.1",
    ITL_ADMIN_TOKEN: adminToken,
    ITL_MACHINE_AUTH: "ek-fingerprint-header",
    // Every registration comes from this one address: the per-address limit on new EKs is off for the bench.
    ITL_REGISTRATION_LIMIT: "0",
    ITL_SHARED_SECRET_MASTER_KEY: sharedMasterKey,
    ...database.serverEnv
  }

  log("starting the server with secret_vault (first start of a database migrates it)")
  const server = await startChild(SERVER_PROGRAM, serverEnv)
  let serverFigures, data
  try {
    data = await setUp(server.url, adminToken)
    serverFigures = await measureReads(`${database.kind}, server`, { ...server, database: database.name }, data)
  } finally {
    await server.stop()
  }

  // Stopped first, as in bench/run.js: PGlite allows one process per data directory.
  log("starting the floor")
  const floor = await startChild(FLOOR_PROGRAM, { ...database.floorConfig, sharedMasterKey })
  let floorFigures
  try {
    floorFigures = await measureReads(`${database.kind}, floor`, { ...floor, database: database.name }, data)
  } finally {
    await floor.stop()
  }
  return { kind: database.kind, server: serverFigures, floor: floorFigures }
}

const printTable = ({ kind, server: s, floor: f }) => {
  const rows = [[`GET /api/v1/shared-secrets/by-name/{name}/value`, s.requestsPerSecond.toFixed(0), f.requestsPerSecond.toFixed(0),
    (s.requestsPerSecond / f.requestsPerSecond).toFixed(2), s.p99Ms.toFixed(1), f.p99Ms.toFixed(1)]]
  const header = ["scenario", "server req/s", "floor req/s", "ratio (server/floor)", "server p99 ms", "floor p99 ms"]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`
  console.log(`\n${kind}`)
  console.log(line(header))
  console.log(`|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|")}|`)
  for (const row of rows) console.log(line(row))
}

const main = async () => {
  console.log(`ITL attestation bench, shared-secret reads: ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s measured per figure, ${MACHINES} machines`)
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
        for (const problem of outcome[side].problems) problems.push(`${outcome.kind} ${side} ${problem}`)
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
