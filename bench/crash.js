/**
 * `npm run crash`: are acknowledged writes durable when the server is killed
 * with SIGKILL under write load?
 *
 * For each database (the embedded PGlite always; PostgreSQL too when
 * BENCH_DATABASE_URL is set) and each of CRASH_ROUNDS rounds:
 *   1. start `attestation serve` as its own process on that database;
 *   2. CRASH_WRITERS concurrent clients create operator tokens (an audited,
 *      journaled write) as fast as the server answers, and remember every token
 *      whose creation was acknowledged with 201;
 *   3. after a random 1–4 s, SIGKILL the server in the middle of that load;
 *   4. start it again on the same database and check, through the public API,
 *      that every acknowledged token authenticates and that the audit chain
 *      verifies.
 * Prints acknowledged, lost and chain figures per round and in total. It is a
 * measurement: it exits 0 after printing, and 1 only if the harness itself
 * fails (a server that will not start).
 */
import { spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as net from "node:net"
import { fileURLToPath } from "node:url"
import { embeddedDatabase, postgresDatabase } from "./lib/database.js"
import { setting } from "./lib/setting.js"

const ROUNDS = setting("CRASH_ROUNDS", 3)
const WRITERS = setting("CRASH_WRITERS", 16)
const CLI = fileURLToPath(new URL("../packages/cli/dist/bin.js", import.meta.url))
const START_TIMEOUT_MS = 120_000
const REQUEST_TIMEOUT_MS = 10_000
const log = (line) => console.error(`[crash] ${line}`)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

const request = async (url, init = {}) => {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  const text = await response.text()
  return { status: response.status, body: text.length > 0 && text.startsWith("{") ? JSON.parse(text) : text }
}

/** Starts the server process and waits until /readyz answers 200. */
const startServer = async (env) => {
  const port = await freePort()
  const child = spawn(process.execPath, [CLI, "serve"], {
    env: { ...process.env, ...env, ITL_PORT: String(port), ITL_HOST: "127.0.0.1", ITL_LOG_LEVEL: "error" },
    stdio: ["ignore", "ignore", "pipe"]
  })
  let stderr = ""
  child.stderr.on("data", (chunk) => (stderr += chunk))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + START_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited during start-up (code ${child.exitCode}): ${stderr.trim()}`)
    const ready = await request(`${url}/readyz`).then((r) => r.status === 200, () => false)
    if (ready) return { url, child }
    await sleep(100)
  }
  child.kill("SIGKILL")
  throw new Error(`server did not become ready within ${START_TIMEOUT_MS / 1000} s`)
}

const exited = (child) =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once("exit", resolve))

/** Writers create tokens until `stop()`; returns the acknowledged ones. */
const writeLoad = (url, adminToken) => {
  const acknowledged = []
  let running = true
  let attempted = 0
  const writer = async (w) => {
    for (let i = 0; running; i++) {
      attempted++
      const name = `crash-${w}-${i}-${crypto.randomBytes(3).toString("hex")}`
      try {
        const { status, body } = await request(`${url}/api/v1/operators/tokens`, {
          method: "POST",
          headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
          body: JSON.stringify({ name, role: "viewer" })
        })
        if (status === 201) acknowledged.push({ name, token: body.token })
      } catch {
        // The server died mid-request: this write was never acknowledged.
        if (!running) return
        await sleep(20)
      }
    }
  }
  const writers = Array.from({ length: WRITERS }, (_, w) => writer(w))
  return {
    acknowledged,
    attempted: () => attempted,
    stop: async () => {
      running = false
      await Promise.all(writers)
    }
  }
}

const verifyAfterRestart = async (url, adminToken, acknowledged) => {
  let lost = 0
  for (const { token } of acknowledged) {
    const { status } = await request(`${url}/api/v1/machines?limit=1`, { headers: { authorization: `Bearer ${token}` } })
    if (status !== 200) lost++
  }
  const verify = await request(`${url}/api/v1/audit/verify`, { headers: { authorization: `Bearer ${adminToken}` } })
  return { lost, chain: verify.body }
}

const runDatabase = async (database) => {
  const adminToken = `itl_crash_admin_${crypto.randomBytes(16).toString("hex")}`
  const env = {
    ...database.serverEnv,
    ITL_ADMIN_TOKEN: adminToken,
    ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex")
  }
  const rounds = []
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const { url, child } = await startServer(env)
      const load = writeLoad(url, adminToken)
      const killAfter = 1000 + Math.floor(Math.random() * 3000)
      await sleep(killAfter)
      child.kill("SIGKILL")
      await exited(child)
      await load.stop()
      const restarted = await startServer(env)
      const { lost, chain } = await verifyAfterRestart(restarted.url, adminToken, load.acknowledged)
      restarted.child.kill("SIGTERM")
      await exited(restarted.child)
      const figures = { round, killAfterMs: killAfter, attempted: load.attempted(), acknowledged: load.acknowledged.length, lost, chain }
      log(`${database.kind} round ${round}: killed after ${killAfter} ms, ${figures.acknowledged} acknowledged of ${figures.attempted} attempted, ${lost} lost, audit chain ${JSON.stringify(chain)}`)
      rounds.push(figures)
    }
  } finally {
    await database.cleanup()
  }
  return rounds
}

const main = async () => {
  const databases = [embeddedDatabase()]
  if (process.env.BENCH_DATABASE_URL) databases.push(await postgresDatabase(process.env.BENCH_DATABASE_URL))
  const results = []
  for (const database of databases) results.push({ kind: database.kind, rounds: await runDatabase(database) })
  console.log("\n| database | rounds | writes acknowledged | lost after SIGKILL + restart | audit chain valid after each restart |")
  console.log("|---|---|---|---|---|")
  for (const { kind, rounds } of results) {
    const acknowledged = rounds.reduce((n, r) => n + r.acknowledged, 0)
    const lost = rounds.reduce((n, r) => n + r.lost, 0)
    const valid = rounds.every((r) => r.chain?.valid === true)
    console.log(`| ${kind} | ${rounds.length} | ${acknowledged} | ${lost} | ${valid ? "yes" : "NO"} |`)
  }
}

main().catch((error) => {
  console.error(`[crash] ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
})
