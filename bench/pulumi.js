/**
 * `npm run bench:pulumi`: the pulumi_state backend against Pulumi's own file backend (docs/performance.md,
 * "Pulumi state backend").
 *
 * 1. Wall time of the real `pulumi` CLI (scripts/pulumi/ensure.sh's build) on the same program
 *    (packages/pulumi-state/test/fixtures/program, dynamic resources in a component) with BENCH_PULUMI_SIZES
 *    resources (10, 200): `pulumi up --yes --skip-preview` creating them, then `pulumi preview` (nothing to
 *    change), against this backend (`pulumi login http://…`, the service's secrets) and against
 *    `pulumi login file://…` (passphrase secrets), BENCH_ROUNDS alternating runs (file, http, file, http, …),
 *    a fresh stack each run; medians → ratio http / file (goal ≤ 1.0).
 * 2. Checkpoint PATCH time over raw HTTP for BENCH_CHECKPOINT_MIB states (1, 10): BENCH_PATCHES PATCHes in one
 *    update, each state differing in one resource, as full `checkpoint` and as `checkpointverbatim` +
 *    `checkpointdelta` (when the server advertises delta-checkpoint-uploads-v2); median ms each.
 *
 * Databases as the other benches (bench/lib/database.js): PGlite (unless BENCH_EMBEDDED=0), PostgreSQL when
 * BENCH_DATABASE_URL is set. Prints the tables; results also in bench/results/pulumi-<db>.json. Exits 1, after
 * printing, if a command or request failed. Asserts nothing about speed. Small settings to check that it works:
 *   BENCH_ROUNDS=1 BENCH_PULUMI_SIZES=3 BENCH_CHECKPOINT_MIB=1 BENCH_PATCHES=2 npm run bench:pulumi
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { pulumiBin, pulumiSession } from "../test-support/pulumi.js"
import { startChild } from "./lib/child.js"
import { benchedDatabases } from "./lib/database.js"
import { benchCheckpoints, pulumiCall } from "./lib/pulumiCheckpoints.js"
import { reportProblems } from "./lib/problems.js"
import { setting } from "./lib/setting.js"

const ROUNDS = setting("BENCH_ROUNDS", 3)
const PATCHES = setting("BENCH_PATCHES", 10)
const list = (name, fallback) =>
  (process.env[name] ?? fallback).split(",").map((s) => {
    const n = Number(s.trim())
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be positive whole numbers, e.g. ${fallback}`)
    return n
  })
const SIZES = list("BENCH_PULUMI_SIZES", "10,200")
const CHECKPOINT_MIB = list("BENCH_CHECKPOINT_MIB", "1,10")
const SERVER = fileURLToPath(new URL("./lib/pulumiServer.js", import.meta.url))
const log = (line) => console.error(`[bench] ${line}`)
const warnings = []
const problems = []

const median = (values) => {
  const sorted = values.filter((v) => v !== undefined).sort((a, b) => a - b)
  return sorted.length === 0 ? undefined : sorted[Math.floor(sorted.length / 2)]
}
const fmt = (ms) => (ms === undefined ? "—" : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`)
const ratio = (a, b) => (a === undefined || b === undefined ? "—" : `${(a / b).toFixed(2)}×`)

/** One run against one backend: a new session and stack, `up` creating `size` resources, then `preview`. */
const cliRun = async (backend, size, server, token) => {
  const session = await pulumiSession(
    backend === "http" ? { accessToken: token } : { env: { PULUMI_CONFIG_PASSPHRASE: "bench-passphrase" } }
  )
  try {
    const dir = await session.program("program", { projectName: "bench" })
    const run = (args) => session.run(args, { cwd: dir })
    const url = backend === "http" ? server.url : `file://${session.workDir}/state`
    if (backend === "file") fs.mkdirSync(`${session.workDir}/state`)
    await run(["login", url])
    await run(["stack", "init", `run-${crypto.randomBytes(3).toString("hex")}`])
    await run(["config", "set", "count", String(size)])
    await run(["config", "set", "--secret", "apiKey", "bench-secret"])
    // Other work on the machine is not watched here: the CLI, its language host and the dynamic
    // provider are processes of their own on both sides. Run it on a quiet machine.
    const timed = async (args) => {
      const start = performance.now()
      await run(args)
      return performance.now() - start
    }
    const upMs = await timed(["up", "--yes", "--non-interactive", "--skip-preview"])
    const previewMs = await timed(["preview", "--non-interactive"])
    return { upMs, previewMs }
  } finally {
    await session.cleanup()
  }
}

const benchDatabase = async (database) => {
  log(`database: ${database.kind}`)
  const token = `bench-pulumi-${crypto.randomBytes(16).toString("hex")}`
  const env = {
    ITL_PORT: "0", ITL_HOST: "127.0.0.1", ITL_ADMIN_TOKEN: `bench-admin-${crypto.randomBytes(16).toString("hex")}`,
    ITL_MASTER_KEY: crypto.randomBytes(32).toString("hex"), ITL_PULUMI_TOKEN: token, ...database.serverEnv
  }
  const outcome = { database: database.kind, settings: { rounds: ROUNDS, sizes: SIZES, checkpointMiB: CHECKPOINT_MIB, patches: PATCHES }, cli: [], checkpoints: [] }
  const server = await startChild(SERVER, { ...env }, { quiet: true })
  try {
    for (const size of SIZES) {
      const runs = { file: [], http: [] }
      for (let round = 1; round <= ROUNDS; round++) {
        for (const backend of ["file", "http"]) {
          log(`${size} resources, round ${round}/${ROUNDS}: ${backend} backend`)
          try {
            runs[backend].push(await cliRun(backend, size, server, token))
          } catch (error) {
            problems.push(`${database.kind}, ${backend} backend, ${size} resources: ${error instanceof Error ? error.message.slice(0, 2000) : error}`)
          }
        }
      }
      const of = (backend, field) => median(runs[backend].map((r) => r[field]))
      outcome.cli.push({
        resources: size,
        runs,
        file: { upMs: of("file", "upMs"), previewMs: of("file", "previewMs") },
        http: { upMs: of("http", "upMs"), previewMs: of("http", "previewMs") }
      })
    }

    const capabilities = await pulumiCall(server.url, "GET", "/api/capabilities", { token }).catch(() => ({ capabilities: [] }))
    const deltaAdvertised = (capabilities?.capabilities ?? []).some((c) => c.capability === "delta-checkpoint-uploads-v2")
    if (!deltaAdvertised) warnings.push(`${database.kind}: the server does not advertise delta-checkpoint-uploads-v2; delta PATCHes not measured`)
    for (const mib of CHECKPOINT_MIB) {
      log(`checkpoints of ${mib} MiB: ${PATCHES} PATCHes full${deltaAdvertised ? " and delta" : ""}`)
      try {
        outcome.checkpoints.push(await benchCheckpoints(server.url, token, mib * 1024 * 1024, PATCHES, deltaAdvertised))
      } catch (error) {
        problems.push(`${database.kind}, ${mib} MiB checkpoints: ${error instanceof Error ? error.message : error}`)
      }
    }
  } finally {
    await server.stop()
  }
  return outcome
}

const printReport = (outcome) => {
  console.log(`\n${outcome.database}`)
  console.log("  pulumi CLI wall time (median)        file backend   this backend   ratio")
  for (const row of outcome.cli) {
    for (const [label, field] of [["up (create)", "upMs"], ["preview (no change)", "previewMs"]]) {
      const name = `  ${row.resources} resources, ${label}`.padEnd(38)
      console.log(`${name}${fmt(row.file[field]).padStart(12)}   ${fmt(row.http[field]).padStart(12)}   ${ratio(row.http[field], row.file[field]).padStart(6)}`)
    }
  }
  console.log("  checkpoint PATCH (median)            full           delta          first (full / verbatim)")
  for (const row of outcome.checkpoints) {
    const name = `  ${(row.bytes / 1048576).toFixed(1)} MiB, ${row.resources} resources`.padEnd(38)
    console.log(`${name}${fmt(row.full?.medianMs).padStart(12)}   ${fmt(row.delta?.medianMs).padStart(12)}   ${fmt(row.full?.firstMs)} / ${fmt(row.delta?.firstMs)}`)
  }
}

const main = async () => {
  const started = performance.now()
  const bin = await pulumiBin()
  console.log(`ITL attestation bench, pulumi_state: the real CLI (${bin}) at ${SIZES.join(", ")} resources, ${ROUNDS} alternating runs per backend; ` +
    `checkpoint PATCHes of ${CHECKPOINT_MIB.join(", ")} MiB, ${PATCHES} each`)
  console.log(`machine: ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? "unknown CPU"}), node ${process.version}`)
  fs.mkdirSync(new URL("./results/", import.meta.url), { recursive: true })
  for (const [short, makeDatabase] of benchedDatabases()) {
    const database = await makeDatabase()
    try {
      const outcome = await benchDatabase(database)
      printReport(outcome)
      fs.writeFileSync(new URL(`./results/pulumi-${short}.json`, import.meta.url), JSON.stringify(outcome, null, 2) + "\n")
    } finally {
      await database.cleanup()
    }
  }
  console.log(`\nthe run took ${((performance.now() - started) / 60000).toFixed(1)} min`)
  if (warnings.length > 0) {
    console.log("\nWarnings:")
    for (const warning of warnings) console.log(`  - ${warning}`)
  }
  reportProblems(problems)
}

main().catch((error) => {
  console.error("bench failed:", error)
  process.exitCode = 1
})
