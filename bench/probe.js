/**
 * `npm run probe`: probes the running server from outside with malformed and
 * hostile input, as issue 7's first paragraph did, and prints what it found.
 * A measurement, not a test: it exits 0 whatever it finds.
 *
 * For every operation in /openapi.json it sends the battery of
 * bench/lib/probeInputs.js as admin, and the short part of it as a viewer and
 * unauthenticated. Each request has a timeout. Per database it reports: inputs
 * tried, responses by status class, 5xx, hung requests and dropped connections
 * (each listed with method, path, input and status), the largest error body,
 * bodies that leak internals (stack frames, SqlError, node_modules, …),
 * rejected requests that changed state (a snapshot of counts and fixture
 * records through the admin API, taken around every non-GET request), and
 * endpoints that validated input before checking the caller's role. (The count
 * of accepted requests that changed state shows the state check sees changes.)
 *
 * Databases: the embedded PGlite always; PostgreSQL too when PROBE_DATABASE_URL
 * (or BENCH_DATABASE_URL, or TEST_DATABASE_URL) names a server (a fresh
 * database is created there and dropped afterwards). PROBE_TIMEOUT (ms per
 * request, default 15000), PROBE_LOG (a file to which every request and its
 * status is appended), PROBE_SERVER_ENV (a JSON object of further ITL_*
 * settings for the server under test).
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import { fileURLToPath } from "node:url"
import { startChild } from "./lib/child.js"
import { embeddedDatabase, postgresDatabase } from "./lib/database.js"
import { generateEkPems } from "./lib/keys.js"
import { FRESH_MACHINE, inputsFor } from "./lib/probeInputs.js"

const SERVER_PROGRAM = fileURLToPath(new URL("./lib/serverWithSecretVault.js", import.meta.url))
const TIMEOUT = Number(process.env.PROBE_TIMEOUT ?? 15_000)
const POSTGRES_URL = process.env.PROBE_DATABASE_URL || process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || ""
/** PROBE_LOG=<file>: one line per request (database, input, status), for whoever fixes what the report lists. */
const LOG_FILE = process.env.PROBE_LOG ?? ""
/**
 * PROBE_SERVER_ENV: a JSON object of further ITL_* settings for the server. By default the per-address
 * limits are off: every probe request comes from one address, and a 429 would hide what an input reaches.
 */
const EXTRA_ENV = { ITL_REGISTRATION_LIMIT: "0", ITL_UNVERIFIED_ATTEST_LIMIT: "0", ...JSON.parse(process.env.PROBE_SERVER_ENV || "{}") }
const log = (line) => console.error(`[probe] ${line}`)

/** What in a response body betrays internals. */
const LEAKS = [
  [/\n\s*at \S.*\(.*:\d+:\d+\)|^\s*at \S+ \(/m, "stack frame"],
  [/SqlError|PgError|error: syntax error|violates .* constraint|relation "/, "SQL error"],
  [/node_modules/, "node_modules path"],
  [/\/(src|dist)\/[\w/]+\.(ts|js)/, "source path"],
  [/FiberFailure|RuntimeException|Maximum call stack/, "Effect/V8 internal error"]
]

/** One request over a fresh connection; never throws. */
const send = (base, request, token) =>
  new Promise((resolve) => {
    const url = new URL(base)
    const headers = { ...request.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) }
    if (headers["content-type"] === "") delete headers["content-type"]
    const body = request.body === undefined ? undefined : Buffer.from(request.body, "utf8")
    if (body !== undefined && !request.chunked) headers["content-length"] = String(body.length)
    // Node frames a body as chunked by itself only for methods that usually carry one;
    // say so explicitly, or a GET's body bytes would reach the server as a malformed next request.
    if (body !== undefined && request.chunked) headers["transfer-encoding"] = "chunked"
    let done = false
    const finish = (result) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resolve(result)
    }
    let req
    try {
      req = http.request({ host: url.hostname, port: url.port, method: request.method, path: request.path, headers, agent: false })
    } catch (error) {
      return finish({ outcome: "not sent", detail: error.message })
    }
    const timer = setTimeout(() => {
      req.destroy()
      finish({ outcome: "hung" })
    }, TIMEOUT)
    req.on("response", (response) => {
      const chunks = []
      response.on("data", (chunk) => chunks.push(chunk))
      response.on("end", () => finish({ outcome: "answered", status: response.statusCode, body: Buffer.concat(chunks) }))
      response.on("error", (error) => finish({ outcome: "dropped", detail: error.code ?? error.message }))
    })
    req.on("error", (error) => finish({ outcome: "dropped", detail: error.code ?? error.message }))
    if (body === undefined) return req.end()
    if (!request.chunked) return req.end(body)
    // Chunked: 64 KiB at a time, as a streaming client would.
    for (let i = 0; i < body.length; i += 65_536) req.write(body.subarray(i, i + 65_536))
    req.end()
  })

const getJson = async (base, path, token) => {
  const r = await send(base, { method: "GET", path, headers: {} }, token)
  if (r.outcome !== "answered") return `(${r.outcome})`
  try {
    return JSON.parse(r.body.toString("utf8"))
  } catch {
    return `(${r.status})`
  }
}

const call = async (base, method, path, token, payload) => {
  const r = await send(base, { method, path, headers: { "content-type": "application/json" }, body: JSON.stringify(payload ?? {}) }, token)
  const body = r.body ? JSON.parse(r.body.toString("utf8") || "null") : undefined
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body?.toString("utf8").slice(0, 300)}`)
  return body
}

/** Real records for path parameters and bodies, made through the API. */
const makeFixtures = async (base, admin) => {
  const pems = generateEkPems(2000)
  let nextPem = 0
  const viewer = (await call(base, "POST", "/api/v1/operators/tokens", admin, { name: "probe-viewer", role: "viewer" })).token
  const { machine } = await call(base, "POST", "/api/v1/machines/register", undefined, { ek_public: pems[nextPem++], hostname: "probe-fixture" })
  await call(base, "POST", `/api/v1/machines/${machine.id}/approve`, admin, {})
  const shared = await call(base, "POST", "/api/v1/shared-secrets", admin, { name: "probe-shared", value: "probe-shared-value" })
  const secret = await call(base, "POST", `/api/v1/secrets/machines/${machine.id}/secrets`, admin, { name: "probe-secret", value: "probe-secret-value" })
  return {
    viewer,
    machineId: machine.id,
    sharedId: shared.shared_secret_id,
    secretId: secret.secret_id,
    pem: () => pems[nextPem++ % pems.length],
    unprepared: [],
    pathValue: (template, param) => {
      if (template.includes("/shared-secrets/by-name/")) return "probe-shared"
      if (template.startsWith("/api/v1/shared-secrets/")) return shared.shared_secret_id
      if (template.startsWith("/api/v1/secrets/machines/")) return param === "name" ? "probe-secret" : machine.id
      if (template.startsWith("/api/v1/secrets/")) return secret.secret_id
      if (template.startsWith("/api/v1/operators/tokens/")) return crypto.randomUUID()
      return param === "id" ? machine.id : "probe"
    }
  }
}

/** Counts and fixture records that a rejected request must leave as they were. */
const snapshot = async (base, admin, fx) => {
  const total = async (path) => {
    const body = await getJson(base, path, admin)
    return typeof body === "object" && body !== null && "total" in body ? body.total : JSON.stringify(body)
  }
  const [audit, refusals, machines, tokens, shared, secrets, grants, policy, machine] = await Promise.all([
    total("/api/v1/audit?limit=1"),
    // Refused attestation attempts are audited on purpose (who tried, from where): not a change of state.
    total("/api/v1/audit?limit=1&action=machine.attestation_refused"),
    total("/api/v1/machines?limit=1"),
    total("/api/v1/operators/tokens"),
    total("/api/v1/shared-secrets"),
    total(`/api/v1/secrets/machines/${fx.machineId}/secrets`),
    total(`/api/v1/shared-secrets/${fx.sharedId}/access`),
    getJson(base, "/api/v1/pcr-policy", admin),
    getJson(base, `/api/v1/machines/${fx.machineId}`, admin)
  ])
  return { audit_rows: typeof audit === "number" && typeof refusals === "number" ? audit - refusals : audit, machines, operator_tokens: tokens, shared_secrets: shared, machine_secrets: secrets, access_grants: grants, global_pcr_policy: JSON.stringify(policy), fixture_machine: JSON.stringify(machine) }
}

/** The status changes that bring a new (pending) machine to where `action` starts from. */
const STEPS_BEFORE = { approve: [], reject: [], lock: ["approve"], unlock: ["approve", "lock"], revoke: ["approve"] }

/** A new machine ready for `action`; the fixture machine if the server refuses to make one (e.g. a rate limit). */
const freshMachine = async (base, admin, fx, action) => {
  try {
    const { machine } = await call(base, "POST", "/api/v1/machines/register", undefined, { ek_public: fx.pem(), hostname: `probe-fresh-${crypto.randomBytes(3).toString("hex")}` })
    for (const step of STEPS_BEFORE[action]) await call(base, "POST", `/api/v1/machines/${machine.id}/${step}`, admin, {})
    return machine.id
  } catch (error) {
    fx.unprepared.push(`${action}: ${error.message.slice(0, 160)}`)
    return fx.machineId
  }
}

const changes = (before, after) => Object.keys(before).filter((k) => before[k] !== after[k])

const describeInput = (request, role) => `${request.method} ${request.path.length > 90 ? request.path.slice(0, 87) + "..." : request.path} [${role}] ${request.what}`

const probeDatabase = async (database) => {
  log(`database: ${database.kind}`)
  const admin = `probe-admin-${crypto.randomBytes(16).toString("hex")}`
  const server = await startChild(SERVER_PROGRAM, {
    ITL_PORT: "0",
    ITL_HOST: "127.0.0.1",
    ITL_ADMIN_TOKEN: admin,
    ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex"),
    ...database.serverEnv,
    ...EXTRA_ENV
  }, { quiet: true })
  const base = server.url
  const found = {
    kind: database.kind, tried: 0, classes: { "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 }, fiveXX: [], hung: [], dropped: [],
    largest: { bytes: 0, input: "-" }, leaks: [], acceptedChanged: 0, rejectedChanged: [], refusedChanged: [], validatedFirst: [], operations: 0
  }
  try {
    const fx = await makeFixtures(base, admin)
    const spec = await getJson(base, "/openapi.json")
    const roles = [["admin", admin], ["viewer", fx.viewer], ["unauthenticated", undefined]]
    let state = await snapshot(base, admin, fx)
    const operations = Object.entries(spec.paths).flatMap(([template, item]) =>
      Object.entries(item).filter(([method]) => ["get", "post", "put", "delete", "patch"].includes(method)).map(([method, op]) => [template, method, op])
    )
    found.operations = operations.length
    found.unprepared = fx.unprepared
    for (const [template, method, operation] of operations) {
      const inputs = inputsFor(spec, template, method, operation, fx)
      const baselineStatus = {}
      for (const [role, token] of roles) {
        for (const planned of inputs) {
          if (planned.only !== undefined ? planned.only !== role : role !== "admin" && !planned.short) continue
          let request = planned
          if (request.path.includes(FRESH_MACHINE)) {
            request = { ...request, path: request.path.replace(FRESH_MACHINE, await freshMachine(base, admin, fx, request.fresh)) }
            state = await snapshot(base, admin, fx)
          }
          const result = await send(base, request, token)
          found.tried++
          const input = describeInput(request, role)
          if (LOG_FILE) fs.appendFileSync(LOG_FILE, `${database.kind}\t${input}\t${result.status ?? result.outcome}\n`)
          if (result.outcome === "hung") found.hung.push(`${input} -> no answer within ${TIMEOUT} ms`)
          else if (result.outcome !== "answered") found.dropped.push(`${input} -> ${result.outcome}: ${result.detail}`)
          else {
            const status = result.status
            found.classes[`${Math.floor(status / 100)}xx`] = (found.classes[`${Math.floor(status / 100)}xx`] ?? 0) + 1
            const text = result.body.toString("utf8")
            if (status >= 500) found.fiveXX.push(`${input} -> ${status} ${text.slice(0, 160).replace(/\s+/g, " ")}`)
            if (status >= 400 && result.body.length > found.largest.bytes) found.largest = { bytes: result.body.length, input: `${input} -> ${status}` }
            for (const [pattern, what] of LEAKS) if (pattern.test(text)) found.leaks.push(`${input} -> ${status}: ${what}`)
            if (request.what === "plausible request") baselineStatus[role] = status
            else if (role !== "admin" && [401, 403].includes(baselineStatus[role]) && [400, 404, 415, 422].includes(status)) {
              found.validatedFirst.push(`${input} -> ${status} (the plain request gets ${baselineStatus[role]})`)
            }
          }
          if (method !== "get") {
            const next = await snapshot(base, admin, fx)
            const changed = changes(state, next)
            state = next
            const status = result.status ?? 0
            if (changed.length > 0 && status >= 200 && status < 300) found.acceptedChanged++
            if (changed.length > 0 && status >= 400 && status < 500) {
              const line = `${input} -> ${status}: changed ${changed.join(", ")}`
              ;([401, 403, 429].includes(status) ? found.refusedChanged : found.rejectedChanged).push(line)
            }
          }
        }
      }
    }
  } finally {
    await server.stop().catch((error) => log(`stop: ${error.message}`))
  }
  return found
}

const printDetails = (f) => {
  const section = (title, lines) => {
    console.log(`\n${title}: ${lines.length}`)
    for (const line of lines.slice(0, 200)) console.log(`  ${line}`)
    if (lines.length > 200) console.log(`  … and ${lines.length - 200} more`)
  }
  console.log(`\n=== ${f.kind}: ${f.tried} inputs over ${f.operations} operations ===`)
  section("5xx responses", f.fiveXX)
  section("hung requests", f.hung)
  section("dropped connections", f.dropped)
  section("bodies leaking internals", f.leaks)
  section("rejected input (400/404/409/413/415/422) that changed state", f.rejectedChanged)
  section("refusals (401/403/429) that changed state (attestation refusals are audited by design and not counted)", f.refusedChanged)
  section("validated before authorized (viewer/unauthenticated got 4xx other than 401/403 where the plain request is refused)", f.validatedFirst)
  if (f.unprepared?.length) section("status-change inputs sent to the fixture machine (a new machine could not be made)", f.unprepared)
  console.log(`\nlargest error body: ${f.largest.bytes} bytes (${f.largest.input})`)
}

const printSummary = (all) => {
  const rows = [
    ["inputs tried", (f) => f.tried],
    ["operations", (f) => f.operations],
    ["2xx", (f) => f.classes["2xx"]],
    ["3xx", (f) => f.classes["3xx"]],
    ["4xx", (f) => f.classes["4xx"]],
    ["5xx", (f) => f.classes["5xx"]],
    ["hung requests", (f) => f.hung.length],
    ["dropped connections", (f) => f.dropped.length],
    ["largest error body (bytes)", (f) => f.largest.bytes],
    ["bodies leaking internals", (f) => f.leaks.length],
    ["accepted (2xx) that changed state", (f) => f.acceptedChanged],
    ["rejected input changed state", (f) => f.rejectedChanged.length],
    ["refusals changed state", (f) => f.refusedChanged.length],
    ["validated before authorized", (f) => f.validatedFirst.length]
  ]
  const header = ["", ...all.map((f) => f.kind)]
  const cells = [header, ...rows.map(([name, get]) => [name, ...all.map((f) => String(get(f)))])]
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i].length)))
  console.log("\n=== summary ===")
  for (const row of cells) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  "))
}

const targets = [embeddedDatabase, ...(POSTGRES_URL ? [() => postgresDatabase(POSTGRES_URL)] : [])]
const results = []
for (const make of targets) {
  const database = await make()
  try {
    const found = await probeDatabase(database)
    results.push(found)
    printDetails(found)
  } catch (error) {
    log(`${database.kind}: the probe itself failed: ${error.stack ?? error.message}`)
  } finally {
    await database.cleanup()
  }
}
printSummary(results)
