/**
 * The database side of bench/metrics.js: seeding machines in bulk, and timing
 * the two statements the metrics gauges run at scrape time, alone, with their
 * plans. On PGlite the data directory is opened here (as the floors open it,
 * bench/lib/floorCommon.js), so the server must be stopped meanwhile.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import pg from "pg"
import { openEmbedded } from "./floorCommon.js"
import { percentile } from "./load.js"

export const STATUSES = ["pending_approval", "approved", "attested", "rejected", "locked", "revoked"]

/** The statements of packages/core/src/machines/MachineRepo.ts (countByStatus, countLiveSessions), as the server sends them. */
export const GAUGE_STATEMENTS = {
  byStatus: "SELECT status, count(*)::int AS count FROM machines GROUP BY status",
  liveSessions: `SELECT count(*)::int AS count FROM machine_sessions s JOIN machines m ON m.id = s.machine_id
        WHERE s.expires_at > now() AND m.status IN ('approved', 'attested')`
}

/** Runs `work(client)` on one connection to the bench database (PGlite: the server must be stopped). */
export const withDatabase = async (database, work) => {
  const embedded = database.floorConfig.databaseUrl === undefined ? await openEmbedded(database.floorConfig.dataDir) : undefined
  const client = new pg.Client(
    embedded === undefined
      ? { connectionString: database.floorConfig.databaseUrl }
      : { host: embedded.host, port: embedded.port, user: "postgres", database: "postgres" }
  )
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
    if (embedded !== undefined) {
      await embedded.close()
      ownerOnly(database.floorConfig.dataDir)
    }
  }
}

/**
 * PGlite makes its files readable by others whatever the umask; the server keeps its data directory
 * owner-only and warns when it finds it otherwise. Put it back as the server left it.
 */
const ownerOnly = (directory) => {
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    const file = path.join(directory, entry.name)
    fs.chmodSync(file, fs.statSync(file).mode & 0o700)
    if (entry.isDirectory()) ownerOnly(file)
  }
}

// An EC P-256 SubjectPublicKeyInfo is this 27-byte prefix and the 64 bytes of the point's coordinates.
const SPKI_PREFIX = "3059301306072a8648ce3d020106082a8648ce3d030107034200" + "04"

/**
 * Adds machines `bench-seed-<from>` … `bench-seed-<to - 1>` in one INSERT … SELECT FROM generate_series: an
 * EK PEM per machine (SPKI-shaped, coordinates from SHA-256 of the index: unique, though not a point on the
 * curve; nothing parses a stored PEM again) and its fingerprint as the service computes it (sha256: of the
 * DER), the statuses in turn over all six (locked ones remember `approved`). Then one session per
 * approved, attested or locked machine: unexpired for half of them, expired for the other half, so the live
 * session count depends on both the expiry and the status filter.
 */
export const seedMachines = async (client, from, to) => {
  if (to <= from) return
  await client.query(
    `WITH keys AS (
       SELECT i, '\\x${SPKI_PREFIX}'::bytea || sha256(convert_to('bench-seed-x-' || i, 'UTF8'))
                 || sha256(convert_to('bench-seed-y-' || i, 'UTF8')) AS der,
              ($3::text[])[1 + i % 6] AS status
       FROM generate_series($1::int, $2::int - 1) AS i
     ), inserted AS (
       INSERT INTO machines (ek_fingerprint, ek_public_pem, hostname, status, status_before_lock, approved_at, approved_by, last_attested_at)
       SELECT 'sha256:' || encode(sha256(der), 'hex'),
              '-----BEGIN PUBLIC KEY-----' || chr(10)
                || regexp_replace(replace(encode(der, 'base64'), chr(10), ''), '(.{64})', '\\1' || chr(10), 'g')
                || chr(10) || '-----END PUBLIC KEY-----' || chr(10),
              'bench-seed-' || i, status,
              CASE WHEN status = 'locked' THEN 'approved' END,
              CASE WHEN status IN ('approved', 'attested', 'locked') THEN now() END,
              CASE WHEN status IN ('approved', 'attested', 'locked') THEN 'bench' END,
              CASE WHEN status = 'attested' THEN now() END
       FROM keys
       RETURNING id, hostname, status
     )
     INSERT INTO machine_sessions (token_hash, machine_id, expires_at)
     SELECT encode(sha256(convert_to('bench-seed-session-' || hostname, 'UTF8')), 'hex'), id,
            now() + CASE WHEN substr(hostname, 12)::int % 12 < 6 THEN interval '1 day' ELSE interval '-1 day' END
     FROM inserted WHERE status IN ('approved', 'attested', 'locked')`,
    [from, to, STATUSES]
  )
}

/** What the gauges should say, counted another way (per status, one count each; live sessions). */
export const expectedCounts = async (client) => {
  const byStatus = {}
  for (const status of STATUSES) {
    byStatus[status] = (await client.query("SELECT count(*)::int AS n FROM machines WHERE status = $1", [status])).rows[0].n
  }
  const live = (await client.query(
    "SELECT count(*)::int AS n FROM machine_sessions WHERE expires_at > now() AND machine_id IN (SELECT id FROM machines WHERE status IN ('approved', 'attested'))"
  )).rows[0].n
  return { byStatus, live }
}

/** Every plan node that reads `table`: "Index Only Scan machines_status_idx ×1, 0 heap fetches" (×: loops). */
const scansOf = (plan, table) => {
  const found = []
  const visit = (node) => {
    if (node["Relation Name"] === table) {
      found.push(`${node["Node Type"]}${node["Index Name"] ? ` ${node["Index Name"]}` : ""} ×${node["Actual Loops"]}` +
        (node["Heap Fetches"] !== undefined ? `, ${node["Heap Fetches"]} heap fetches` : ""))
    }
    for (const child of node.Plans ?? []) visit(child)
  }
  visit(plan)
  return found
}

/**
 * Each gauge statement alone, as the server sends it (unnamed extended-protocol query): `runs` timed after
 * `warmup` untimed, median and p99 in ms; then EXPLAIN ANALYZE: the execution time, and each node that reads
 * `machines` (one, read once, for the grouped count: no scan per status).
 */
export const timeGaugeStatements = async (client, { warmup = 5, runs = 30 } = {}) => {
  const out = {}
  for (const [name, text] of Object.entries(GAUGE_STATEMENTS)) {
    for (let i = 0; i < warmup; i++) await client.query({ text, values: [] })
    const times = []
    for (let i = 0; i < runs; i++) {
      const start = process.hrtime.bigint()
      await client.query({ text, values: [] })
      times.push(Number(process.hrtime.bigint() - start) / 1e6)
    }
    times.sort((a, b) => a - b)
    const [explained] = (await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`)).rows[0]["QUERY PLAN"]
    const text_ = (await client.query(`EXPLAIN (ANALYZE, COSTS OFF) ${text}`)).rows.map((r) => r["QUERY PLAN"])
    out[name] = {
      medianMs: percentile(times, 0.5),
      p99Ms: percentile(times, 0.99),
      executionMs: explained["Execution Time"],
      machineScans: scansOf(explained.Plan, "machines"),
      plan: text_
    }
  }
  return out
}
