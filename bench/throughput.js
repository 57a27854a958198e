/**
 * `npm run bench:throughput`: requests/s, p50/p99 and CPU per request of the
 * service (with secret_vault, machine sessions) beside two floors measured in
 * the same run, on the same database and data, one after the other:
 *   effect floor: a minimal Effect HttpApi app doing the same SQL and crypto (bench/lib/effectFloor.js)
 *   bare floor:   node:http + pg doing the same SQL and crypto (bench/lib/bareFloor.js)
 * Scenarios (bench/lib/throughputScenarios.js): shared-secret read, machine-secret
 * read (TPM-wrapped), registration, attestation round trip (challenge + quote),
 * GET /api/v1/machines/{id}. On PostgreSQL also two service instances sharing the
 * shared-secret read load. See docs/performance.md, "Throughput against two floors".
 *
 * Settings (environment): BENCH_DURATION (10), BENCH_WARMUP (2), BENCH_CONNECTIONS (32),
 * BENCH_MACHINES (64), BENCH_KEYS (15000), BENCH_SCENARIOS (shared,machine,register,attest,get),
 * BENCH_TARGETS (service,effect,bare), BENCH_DATABASE_URL (PostgreSQL), BENCH_EMBEDDED=0 (skip PGlite).
 * Exits 1, after printing, if any request failed. Results also in bench/results/throughput-<db>.json.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import { fileURLToPath } from "node:url"
import { startChild } from "./lib/child.js"
import { cpuWindow } from "./lib/cpu.js"
import { benchedDatabases } from "./lib/database.js"
import { measure, percentile } from "./lib/load.js"
import { watchOtherWork } from "./lib/quiet.js"
import { setting } from "./lib/setting.js"
import { printTable, twoInstanceLine } from "./lib/throughputReport.js"
import { loadFor, preflight, SCENARIOS } from "./lib/throughputScenarios.js"
import { setUpThroughput } from "./lib/throughputSetup.js"
import { reportProblems } from "./lib/problems.js"

const DURATION = setting("BENCH_DURATION", 10)
const WARMUP = setting("BENCH_WARMUP", 2)
const CONNECTIONS = setting("BENCH_CONNECTIONS", 32)
const MACHINES = setting("BENCH_MACHINES", 64)
const KEYS = setting("BENCH_KEYS", 15000)
const list = (name, all) => {
  const chosen = (process.env[name] ?? all.join(",")).split(",").map((s) => s.trim()).filter(Boolean)
  const unknown = chosen.filter((s) => !all.includes(s))
  if (unknown.length > 0) throw new Error(`${name}: unknown ${unknown.join(", ")} (choose from ${all.join(",")})`)
  return all.filter((s) => chosen.includes(s))
}
const SCENARIO_LIST = list("BENCH_SCENARIOS", SCENARIOS)
const TARGETS = list("BENCH_TARGETS", ["service", "effect", "bare"])
if (SCENARIO_LIST.includes("attest") && MACHINES < CONNECTIONS) {
  // Each connection's round trip holds one machine; shared machines would run into the service's nonce limit.
  throw new Error(`the attestation round trip needs BENCH_MACHINES (${MACHINES}) >= BENCH_CONNECTIONS (${CONNECTIONS})`)
}

const program = (file) => fileURLToPath(new URL(`./lib/${file}`, import.meta.url))
const PROGRAMS = { service: program("serverWithSecretVault.js"), effect: program("effectFloor.js"), bare: program("bareFloor.js") }
const log = (line) => console.error(`[bench] ${line}`)
const OTHER_WORK_WARNING_PERCENT = 5
const warnings = []

/** One figure: load, CPU of the target processes and the database's backends, other work on the machine. */
const measureTarget = async (what, url, pids, database, load, connections = CONNECTIONS) => {
  const cpu = cpuWindow(pids, database)
  const otherWork = watchOtherWork(pids, database)
  const figures = await measure({ url, connections, warmupSeconds: WARMUP, durationSeconds: DURATION, window: cpu, ...load })
  const percent = otherWork()
  if (percent !== undefined && percent > OTHER_WORK_WARNING_PERCENT) {
    warnings.push(`${what}: other processes used ${percent.toFixed(0)}% of the machine's CPU time meanwhile`)
  }
  const { targetMs, databaseMs } = cpu.result()
  const per = (ms) => (ms === undefined || figures.responses === 0 ? undefined : ms / figures.responses)
  return { ...figures, cpuMsPerRequest: per(targetMs), databaseCpuMsPerRequest: per(databaseMs) }
}

const runScenarios = async (label, target, data, dbName, kind) => {
  const results = {}
  for (const scenario of SCENARIO_LIST) {
    await preflight(target.url, scenario, data)
    log(`${kind}, ${label}: ${scenario}, ${WARMUP} s warm-up + ${DURATION} s measured`)
    const load = loadFor(scenario, data, { label, keyCount: KEYS })
    const { latencies, ...figures } = await measureTarget(`${kind} ${label} ${scenario}`, target.url, [target.pid], dbName, load)
    results[scenario] = figures
  }
  return results
}

/** Two service instances on one database, the shared-secret read load split over both. */
const twoInstances = async (env, first, data, dbName, kind) => {
  const second = await startChild(PROGRAMS.service, env)
  try {
    await preflight(second.url, "shared", data)
    log(`${kind}: two service instances, shared-secret read, 2 × ${CONNECTIONS / 2} connections`)
    const half = Math.floor(CONNECTIONS / 2)
    const cpu = cpuWindow([first.pid, second.pid], dbName)
    const otherWork = watchOtherWork([first.pid, second.pid], dbName)
    const runs = await Promise.all([first, second].map((instance, i) =>
      measure({ url: instance.url, connections: i === 0 ? half : CONNECTIONS - half, warmupSeconds: WARMUP, durationSeconds: DURATION,
        ...(i === 0 ? { window: cpu } : {}), ...loadFor("shared", data, { label: "two", keyCount: 0 }) })
    ))
    const percent = otherWork()
    if (percent !== undefined && percent > OTHER_WORK_WARNING_PERCENT) {
      warnings.push(`${kind} two instances: other processes used ${percent.toFixed(0)}% of the machine's CPU time meanwhile`)
    }
    const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b)
    const { targetMs, databaseMs } = cpu.result()
    return {
      requestsPerSecond: runs.reduce((sum, r) => sum + r.requestsPerSecond, 0),
      perInstance: runs.map((r) => r.requestsPerSecond),
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      responses: latencies.length,
      cpuMsPerRequest: targetMs === undefined ? undefined : targetMs / latencies.length,
      databaseCpuMsPerRequest: databaseMs === undefined ? undefined : databaseMs / latencies.length,
      problems: runs.flatMap((r, i) => r.problems.map((p) => `instance ${i + 1}: ${p}`))
    }
  } finally {
    await second.stop()
  }
}

const benchDatabase = async (database) => {
  const kind = database.kind
  log(`database: ${kind}`)
  const adminToken = `bench-admin-${crypto.randomBytes(16).toString("hex")}`
  const masterKey = database.serverEnv.ITL_MASTER_KEY ?? crypto.randomBytes(32).toString("hex")
  const sharedMasterKey = crypto.randomBytes(32).toString("hex")
  const env = {
    ITL_PORT: "0", ITL_HOST: "127.0.0.1", ITL_ADMIN_TOKEN: adminToken, ITL_REGISTRATION_LIMIT: "0",
    ITL_SHARED_SECRET_MASTER_KEY: sharedMasterKey, ...database.serverEnv, ITL_MASTER_KEY: masterKey
  }
  const isPostgres = database.name !== undefined
  const outcome = { database: kind, settings: { duration: DURATION, warmup: WARMUP, connections: CONNECTIONS, machines: MACHINES }, targets: {} }

  log("starting the service (the first start migrates the database)")
  const service = await startChild(PROGRAMS.service, env)
  let data
  try {
    data = await setUpThroughput(service.url, adminToken, MACHINES, log)
    if (TARGETS.includes("service")) {
      outcome.targets.service = await runScenarios("service", service, data, database.name, kind)
      if (isPostgres && SCENARIO_LIST.includes("shared")) {
        outcome.twoInstances = await twoInstances(env, service, data, database.name, kind)
        outcome.twoInstances.oneInstanceRequestsPerSecond = outcome.targets.service.shared.requestsPerSecond
      }
    }
  } finally {
    await service.stop()
  }
  // The floors run after the service is stopped (PGlite: one process per data directory), on the same rows.
  for (const label of ["effect", "bare"].filter((t) => TARGETS.includes(t))) {
    log(`starting the ${label} floor`)
    const floor = await startChild(PROGRAMS[label], { ...database.floorConfig, masterKey, sharedMasterKey, resetHostnamePrefix: "bench-reg-" })
    try {
      outcome.targets[label] = await runScenarios(label, floor, data, database.name, kind)
    } finally {
      await floor.stop()
    }
  }
  return outcome
}

const main = async () => {
  console.log(`ITL attestation throughput bench: ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s measured per figure, ${MACHINES} machines`)
  console.log(`machine: ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? "unknown CPU"}), node ${process.version}`)
  const databases = benchedDatabases()

  const problems = []
  fs.mkdirSync(new URL("./results/", import.meta.url), { recursive: true })
  for (const [short, makeDatabase] of databases) {
    const database = await makeDatabase()
    try {
      const outcome = await benchDatabase(database)
      printTable(outcome, SCENARIO_LIST)
      if (outcome.twoInstances !== undefined) console.log(twoInstanceLine(outcome.twoInstances, CONNECTIONS))
      fs.writeFileSync(new URL(`./results/throughput-${short}.json`, import.meta.url), JSON.stringify(outcome, null, 2) + "\n")
      for (const [target, results] of Object.entries(outcome.targets)) {
        for (const [scenario, figures] of Object.entries(results)) {
          for (const problem of figures.problems) problems.push(`${outcome.database} ${target} ${scenario}: ${problem}`)
        }
      }
      for (const problem of outcome.twoInstances?.problems ?? []) problems.push(`${outcome.database} two instances: ${problem}`)
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
