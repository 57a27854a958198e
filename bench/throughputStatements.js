/**
 * `npm run bench:statements`: checks that the throughput floors issue the
 * same SQL statement sequence per request as the service, scenario by
 * scenario, and prints the service's sequences. Needs a local PostgreSQL
 * (BENCH_DATABASE_URL) whose server log it can read (BENCH_PG_LOG, default
 * /var/log/postgresql/postgresql-15-main.log): it sets log_statement = all on
 * its own fresh database, sends each scenario's request twice to each target
 * (the second GET is within the minute, so without the last_used_at write),
 * and compares the logged statements between markers. The service's audit
 * sealer runs in the background on the same pool: its transactions are left
 * out (they are not per request). Exits 1 when a floor differs.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { startChild } from "./lib/child.js"
import { postgresDatabase } from "./lib/database.js"
import { generateEkPems } from "./lib/keys.js"
import { setUpThroughput } from "./lib/throughputSetup.js"

const LOG = process.env.BENCH_PG_LOG ?? "/var/log/postgresql/postgresql-15-main.log"
const URL_ = process.env.BENCH_DATABASE_URL
if (!URL_) throw new Error("BENCH_DATABASE_URL is required (a local PostgreSQL whose log BENCH_PG_LOG names)")
const program = (file) => fileURLToPath(new URL(`./lib/${file}`, import.meta.url))
const SEALER = /pg_snapshot_xmin|audit_sealer|chain_seq IS NULL\) AS pending|WHERE chain_seq IS NOT NULL|chain_seq IS NULL AND txid|jsonb_to_recordset/
const SCENARIOS = ["shared", "machine", "register", "challenge", "attest", "get"]

const db = await postgresDatabase(URL_)
const query = async (text) => {
  const client = new pg.Client({ connectionString: db.floorConfig.databaseUrl })
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}
let failed = false
try {
  const adminToken = `bench-admin-${crypto.randomBytes(8).toString("hex")}`
  const masterKey = db.serverEnv.ITL_MASTER_KEY
  const sharedMasterKey = crypto.randomBytes(32).toString("hex")
  const env = { ITL_PORT: "0", ITL_HOST: "127.0.0.1", ITL_ADMIN_TOKEN: adminToken, ITL_REGISTRATION_LIMIT: "0", ITL_SHARED_SECRET_MASTER_KEY: sharedMasterKey, ...db.serverEnv }
  const floorConfig = { ...db.floorConfig, masterKey, sharedMasterKey, resetHostnamePrefix: "bench-reg-" }
  const setupServer = await startChild(program("serverWithSecretVault.js"), env)
  const data = await setUpThroughput(setupServer.url, adminToken, 2, () => {}).finally(() => setupServer.stop())
  await query(`ALTER DATABASE ${db.name} SET log_statement = 'all'`)
  const logStart = fs.statSync(LOG).size
  const m = data.machines[1]
  const json = { "content-type": "application/json" }
  const targets = [["service", "serverWithSecretVault.js", env], ["effect", "effectFloor.js", floorConfig], ["bare", "bareFloor.js", floorConfig]]
  for (const [name, file, config] of targets) {
    const target = await startChild(program(file), config)
    try {
      const call = async (path, init) => {
        const response = await fetch(target.url + path, init)
        const body = await response.text()
        if (!response.ok) throw new Error(`${name} ${path}: ${response.status} ${body}`)
        return body
      }
      for (let round = 0; round < 2; round++) {
        const mark = (scenario) => query(`SELECT 'MARK ${name} ${scenario}'`)
        await mark("shared")
        await call("/api/v1/shared-secrets/by-name/bench-shared/value", { headers: { authorization: `Bearer ${m.session}` } })
        await mark("machine")
        await call(`/api/v1/secrets/machines/${m.id}/secrets/bench-machine-secret`, { headers: { authorization: `Bearer ${m.session}` } })
        await mark("register")
        await call("/api/v1/machines/register", { method: "POST", headers: json, body: JSON.stringify({ ek_public: generateEkPems(1)[0], hostname: `bench-reg-${name}-${round}` }) })
        await mark("challenge")
        const challenge = JSON.parse(await call("/api/v1/attest/challenge", { method: "POST", headers: json, body: JSON.stringify({ machine_id: m.id }) }))
        await mark("attest")
        await call("/api/v1/attest", { method: "POST", headers: json, body: JSON.stringify(m.tpm.quote(m.id, challenge.nonce)) })
        await mark("get")
        await call(`/api/v1/machines/${m.id}`, { headers: { authorization: `Bearer ${data.operatorToken}` } })
        await mark("end")
      }
      await new Promise((resolve) => setTimeout(resolve, 500)) // a sealer pass in flight ends
    } finally {
      await target.stop()
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 500)) // the log is flushed

  // Log entries (continuation lines belong to the entry above) of our database: section → pid → statements.
  const entries = []
  for (const line of fs.readFileSync(LOG, "utf8").slice(logStart).split("\n")) {
    if (/^\d{4}-\d\d-\d\d /.test(line)) entries.push(line)
    else if (entries.length > 0) entries[entries.length - 1] += `\n${line}`
  }
  // Statements of our database, each with its backend and its section (the marker before it).
  const statements = []
  let section
  let round = -1
  for (const entry of entries) {
    if (!entry.includes(`@${db.name} `)) continue
    const match = /\[(\d+)\] \S+ LOG: {2}(?:statement|execute [^:]*): ([\s\S]*)$/.exec(entry)
    if (match === null) continue
    const text = match[2].replace(/\s+/g, " ").trim()
    const marker = /^SELECT 'MARK (\S+) (\S+)'/.exec(text)
    if (marker !== null) {
      section = `${marker[1]} ${marker[2]}`
      round++
      continue
    }
    if (section !== undefined) statements.push({ pid: match[1], text, section, round })
  }
  // The sealer's transactions (BEGIN … COMMIT on one backend holding a sealer statement; one may straddle
  // a marker) and its loose probes are background work, not the request's.
  const dropped = new Set()
  const open = new Map()
  for (const s of statements) {
    if (s.text === "BEGIN") open.set(s.pid, [s])
    else open.get(s.pid)?.push(s)
    if (s.text === "COMMIT" || s.text === "ROLLBACK") {
      const transaction = open.get(s.pid) ?? []
      if (transaction.some((t) => SEALER.test(t.text))) for (const t of transaction) dropped.add(t)
      open.delete(s.pid)
    }
  }
  const sections = {}
  for (const s of statements) {
    if (dropped.has(s) || SEALER.test(s.text)) continue
    const rounds = (sections[s.section] ??= new Map())
    ;(rounds.get(s.round) ?? rounds.set(s.round, []).get(s.round)).push(s.text)
  }
  for (const scenario of SCENARIOS) {
    const rounds = (target) => [...(sections[`${target} ${scenario}`] ?? new Map()).values()]
    const service = rounds("service")
    console.log(`\n## ${scenario}: the service, per request (first round; second round ${service[1]?.length ?? 0} statements)`)
    for (const text of service[0] ?? []) console.log(`  ${text}`)
    for (const floor of ["effect", "bare"]) {
      const same = JSON.stringify(rounds(floor)) === JSON.stringify(service)
      console.log(`  ${floor} floor: ${same ? "same sequence" : "DIFFERS"}`)
      if (!same) {
        failed = true
        for (const [i, round] of rounds(floor).entries()) console.log(`    round ${i + 1}:\n      ${round.join("\n      ")}`)
      }
    }
  }
} finally {
  await db.cleanup()
}
if (failed) process.exitCode = 1
