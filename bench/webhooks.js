/**
 * `npm run bench:webhooks`: webhook delivery, beside a FLOOR measured in the
 * same run against the same receiver.
 *
 * - A receiver (node:http on 127.0.0.1, in this process) answers 204 and notes
 *   when each message arrived.
 * - The server (its own process, bench/webhooksServer.js) has BENCH_WEBHOOKS
 *   webhooks, each on its own path of the receiver, subscribed to
 *   machine.locked and machine.unlocked; BENCH_WEBHOOK_MACHINES approved machines
 *   are locked and unlocked through the API to make events (each event is one
 *   message per webhook).
 * - Latency: one event at a time (the next once every webhook got the last),
 *   for BENCH_DURATION seconds; the time from the event's timestamp (taken in its
 *   transaction, just before the commit) to the message's arrival, p50 and p99.
 * - Throughput: events made as fast as BENCH_WEBHOOK_MACHINES client loops can,
 *   for BENCH_DURATION seconds after BENCH_WARMUP; messages received per second
 *   in that window.
 * - Floor: BENCH_WEBHOOKS loops in this process POSTing the same kind of body,
 *   signed with both schemes (HMAC-SHA256 hex, Standard Webhooks) by `fetch`, to
 *   the same receiver, for BENCH_DURATION seconds: posts per second. The ratio
 *   is deliveries per second over floor posts per second. One loop per webhook,
 *   as the server keeps one attempt in flight per webhook.
 *
 * Databases as bench/run.js (PGlite always, PostgreSQL when BENCH_DATABASE_URL
 * is set). Exits 1, after printing the figures, if a message went missing or
 * arrived badly signed.
 */
import * as crypto from "node:crypto"
import * as http from "node:http"
import * as os from "node:os"
import { fileURLToPath } from "node:url"
import { startChild } from "./lib/child.js"
import { embeddedDatabase, postgresDatabase } from "./lib/database.js"
import { registerMachines } from "./lib/setup.js"
import { setting } from "./lib/setting.js"
import { reportProblems } from "./lib/problems.js"

const DURATION = setting("BENCH_DURATION", 10)
const WARMUP = setting("BENCH_WARMUP", 2)
const WEBHOOKS = setting("BENCH_WEBHOOKS", 8)
const MACHINES = setting("BENCH_WEBHOOK_MACHINES", 8)
const SERVER_PROGRAM = fileURLToPath(new URL("./webhooksServer.js", import.meta.url))
const log = (line) => console.error(`[bench] ${line}`)

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

const percentile = (sorted, p) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))])

/** The receiver: every arrival with its time, its path and whether its plain HMAC signature holds. */
const startReceiver = async (secretFor) => {
  const arrivals = []
  let waiter
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on("data", (c) => chunks.push(c))
    req.on("end", () => {
      const at = Date.now()
      const body = Buffer.concat(chunks)
      const secret = secretFor(req.url)
      const signed = secret === undefined ||
        String(req.headers["x-webhook-signature"] ?? "").split(" ").includes(`sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`)
      arrivals.push({ at, path: req.url, id: req.headers["webhook-id"], body, signed })
      res.writeHead(204).end()
      waiter?.()
    })
  })
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    arrivals,
    /** Resolves once `check()` holds (checked at each arrival), or rejects after `ms`. */
    until: (check, ms = 30_000) =>
      new Promise((resolve, reject) => {
        if (check()) return resolve()
        const timer = setTimeout(() => reject(new Error("timed out waiting for webhook messages")), ms)
        waiter = () => {
          if (!check()) return
          clearTimeout(timer)
          waiter = undefined
          resolve()
        }
      }),
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) })
  }
}

const benchDatabase = async (database) => {
  log(`database: ${database.kind}`)
  const adminToken = `bench-admin-${crypto.randomBytes(16).toString("hex")}`
  const secrets = new Map()
  const receiver = await startReceiver((path) => secrets.get(path))
  const server = await startChild(SERVER_PROGRAM, {
    ITL_PORT: "0",
    ITL_HOST: "127.0.0.1",
    ITL_ADMIN_TOKEN: adminToken,
    ITL_REGISTRATION_LIMIT: "0",
    ITL_WEBHOOK_ALLOW_PRIVATE: "true",
    ...database.serverEnv
  })
  try {
    log(`registering and approving ${MACHINES} machines, creating ${WEBHOOKS} webhooks`)
    const ids = await registerMachines(server.url, MACHINES)
    for (const id of ids) await call(server.url, "POST", `/api/v1/machines/${id}/approve`, adminToken, {})
    for (let i = 0; i < WEBHOOKS; i++) {
      const hook = await call(server.url, "POST", "/api/v1/webhooks", adminToken, { url: `${receiver.url}/w${i}`, events: ["machine.locked", "machine.unlocked"] })
      secrets.set(`/w${i}`, hook.secret)
    }
    const locked = new Map(ids.map((id) => [id, false]))
    const toggle = async (id) => {
      await call(server.url, "POST", `/api/v1/machines/${id}/${locked.get(id) ? "unlock" : "lock"}`, adminToken, {})
      locked.set(id, !locked.get(id))
    }

    // Latency: one event at a time.
    log(`latency: one event at a time for ${DURATION} s`)
    const latencies = []
    const latencyEnd = Date.now() + DURATION * 1000
    let sent = 0
    while (Date.now() < latencyEnd) {
      const before = receiver.arrivals.length
      await toggle(ids[sent % ids.length])
      sent++
      await receiver.until(() => receiver.arrivals.length >= before + WEBHOOKS)
      for (const arrival of receiver.arrivals.slice(before)) latencies.push(arrival.at - Date.parse(JSON.parse(arrival.body).timestamp))
    }
    latencies.sort((a, b) => a - b)

    // Throughput: as many events as the client loops make; messages received in the measured window.
    log(`throughput: ${MACHINES} client loops, ${WARMUP} s warm-up + ${DURATION} s measured`)
    const start = Date.now()
    const windowStart = start + WARMUP * 1000
    const windowEnd = windowStart + DURATION * 1000
    let events = 0
    await Promise.all(ids.map(async (id) => {
      while (Date.now() < windowEnd) {
        await toggle(id)
        events++
      }
    }))
    const expected = (sent + events) * WEBHOOKS
    log(`waiting for the backlog (${expected - receiver.arrivals.length} messages) to drain`)
    const drainFrom = receiver.arrivals.length
    const drainStart = Date.now()
    await receiver.until(() => receiver.arrivals.length >= expected, 600_000)
    const drainSeconds = (Date.now() - drainStart) / 1000
    const drainPerSecond = drainSeconds > 0.5 ? (expected - drainFrom) / drainSeconds : NaN
    const inWindow = receiver.arrivals.filter((a) => a.at >= windowStart && a.at < windowEnd).length
    const problems = []
    const bad = receiver.arrivals.filter((a) => !a.signed).length
    if (bad > 0) problems.push(`${bad} message(s) with a bad signature`)
    const distinct = new Set(receiver.arrivals.map((a) => `${a.path} ${a.id}`)).size
    if (distinct !== expected) problems.push(`${distinct} distinct messages received, ${expected} expected`)
    return { kind: database.kind, latencies, deliveriesPerSecond: inWindow / DURATION, drainPerSecond, eventsPerSecond: events / (WARMUP + DURATION), problems, receiver }
  } finally {
    await server.stop()
  }
}

/** The floor: bare signed fetch posts, one loop per webhook, to the same receiver. */
const floor = async (receiver) => {
  log(`floor: ${WEBHOOKS} loops of signed fetch POSTs for ${DURATION} s`)
  const secret = `whsec_${crypto.randomBytes(24).toString("base64")}`
  const key = Buffer.from(secret.slice(6), "base64")
  const before = receiver.arrivals.length
  const end = Date.now() + DURATION * 1000
  let posts = 0
  await Promise.all(Array.from({ length: WEBHOOKS }, async (_, i) => {
    while (Date.now() < end) {
      const body = JSON.stringify({ event_type: "machine.locked", timestamp: new Date().toISOString(), machine_id: crypto.randomUUID(), data: { hostname: "bench", reason: null } })
      const id = crypto.randomUUID()
      const timestamp = Math.floor(Date.now() / 1000)
      const response = await fetch(`${receiver.url}/floor${i}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-webhook-signature": `sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`,
          "webhook-id": id,
          "webhook-timestamp": String(timestamp),
          "webhook-signature": `v1,${crypto.createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`
        },
        body
      })
      await response.arrayBuffer()
      posts++
    }
  }))
  if (receiver.arrivals.length - before !== posts) throw new Error("the floor lost posts")
  return posts / DURATION
}

const main = async () => {
  console.log(`ITL attestation bench, webhook delivery: ${WEBHOOKS} webhooks, ${MACHINES} event loops, ${WARMUP} s warm-up + ${DURATION} s measured per figure`)
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
      const floorRate = await floor(outcome.receiver)
      await outcome.receiver.close()
      for (const p of outcome.problems) problems.push(`${outcome.kind}: ${p}`)
      console.log(`\n${outcome.kind}`)
      console.log("| deliveries/s (events being made) | backlog drain deliveries/s | floor signed fetch posts/s | ratio (drain/floor) | commit→receipt p50 ms | p99 ms | messages timed | events/s made |")
      console.log("|---:|---:|---:|---:|---:|---:|---:|---:|")
      console.log(`| ${outcome.deliveriesPerSecond.toFixed(0)} | ${outcome.drainPerSecond.toFixed(0)} | ${floorRate.toFixed(0)} | ${(outcome.drainPerSecond / floorRate).toFixed(2)} | ${percentile(outcome.latencies, 50).toFixed(1)} | ${percentile(outcome.latencies, 99).toFixed(1)} | ${outcome.latencies.length} | ${outcome.eventsPerSecond.toFixed(0)} |`)
    } finally {
      await database.cleanup()
    }
  }
  reportProblems(problems)
}

main().catch((error) => {
  console.error("bench failed:", error)
  process.exitCode = 1
})
