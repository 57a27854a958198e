/**
 * The audit sealer of both floors: the statements and the HMAC chain of the
 * service's sealer (core audit/AuditSealer.ts sealPass, AuditLog.ts cadence),
 * so that the floors do the service's whole database work per audited request,
 * background sealing included. The key is random (the service's is wrapped by
 * its master key; the HMAC costs the same), so the floor's hashes do not verify
 * with the service's key: the bench database is thrown away afterwards.
 *
 * `driver.query(text, params)` runs one statement and returns its rows;
 * `driver.transaction(work)` runs `work(query)` between BEGIN and COMMIT on one
 * connection (ROLLBACK on error).
 */
import * as crypto from "node:crypto"

export const SEAL_BATCH = 500
export const SEAL_LEASE_SECONDS = 5
export const SEAL_INTERVAL_MS = 250
export const SEAL_GAP_MS = 100
export const GENESIS_HASH = "0".repeat(64)

export const SEALER_SQL = {
  pending: "SELECT EXISTS (SELECT 1 FROM audit_log WHERE chain_seq IS NULL) AS pending",
  horizon: "SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon",
  lease: `UPDATE audit_sealer
    SET lease_owner = $1, lease_until = now() + make_interval(secs => $2)
    WHERE singleton AND (lease_owner IS NULL OR lease_owner = $3 OR lease_until < now())
    RETURNING lease_owner`,
  last: `SELECT chain_seq::text AS chain_seq, hash FROM audit_log
    WHERE chain_seq IS NOT NULL ORDER BY audit_log.chain_seq DESC LIMIT 1`,
  unsealed: `SELECT id::text AS id, at, actor, actor_kind, action, target_type, target_id, details FROM audit_log
    WHERE chain_seq IS NULL AND txid < $1::xid8
    ORDER BY txid, id LIMIT $2 FOR UPDATE`,
  seal: `UPDATE audit_log a SET chain_seq = v.chain_seq, prev_hash = v.prev_hash, hash = v.hash
    FROM jsonb_to_recordset($1::jsonb) AS v(id bigint, chain_seq bigint, prev_hash text, hash text)
    WHERE a.id = v.id`,
  release: "UPDATE audit_sealer SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1"
}

/** core audit/chain.ts canonicalJson. */
const canonicalJson = (value) => {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null"
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
  const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`
}

export const chainHash = (key, prevHash, row) =>
  crypto.createHmac("sha256", key).update(prevHash).update("\n")
    .update(canonicalJson([row.id, row.at, row.actor, row.actor_kind, row.action, row.target_type, row.target_id, row.details]))
    .digest("hex")

/** Chain positions and hashes for `rows`, after the last sealed row `last` (undefined: none yet). */
export const linkRows = (key, last, rows) => {
  let position = last === undefined ? 0 : Number(last.chain_seq)
  let prevHash = last?.hash ?? GENESIS_HASH
  return rows.map((row) => {
    position++
    const details = typeof row.details === "string" ? JSON.parse(row.details) : row.details
    const hash = chainHash(key, prevHash, { ...row, id: position, at: row.at.toISOString(), details })
    const link = { id: row.id, chain_seq: position, prev_hash: prevHash, hash }
    prevHash = hash
    return link
  })
}

/** One pass (AuditSealer.ts sealPass): the number of rows sealed. */
const sealPass = async (driver, key, owner) => {
  const [waiting] = await driver.query(SEALER_SQL.pending, [])
  if (waiting?.pending !== true) return 0
  return driver.transaction(async (query) => {
    const [{ horizon }] = await query(SEALER_SQL.horizon, [])
    if ((await query(SEALER_SQL.lease, [owner, SEAL_LEASE_SECONDS, owner])).length === 0) return 0
    const [last] = await query(SEALER_SQL.last, [])
    const rows = await query(SEALER_SQL.unsealed, [horizon, SEAL_BATCH])
    if (rows.length === 0) return 0
    const sealed = linkRows(key, last, rows)
    await query(SEALER_SQL.seal, [JSON.stringify(sealed)])
    return sealed.length
  })
}

/**
 * Seals in the background until `stop()` (which waits for the pass in hand and
 * gives the lease back). Cadence as the service's: a full batch goes on at
 * once; otherwise a 100 ms pause, then a pass at the latest 250 ms later
 * (the service wakes sooner after its own appends; `wake()` does the same here).
 */
export const startSealer = (driver) => {
  const key = crypto.randomBytes(32)
  const owner = crypto.randomUUID()
  let stopped = false
  let wakeUp = () => {}
  const pause = (ms) => new Promise((resolve) => { const timer = setTimeout(resolve, ms); wakeUp = () => { clearTimeout(timer); resolve() } })
  let woken = false
  const loop = (async () => {
    while (!stopped) {
      let sealed = 0
      try {
        sealed = await sealPass(driver, key, owner)
      } catch (error) {
        if (!stopped) console.error("floor sealer:", error)
      }
      if (stopped || sealed >= SEAL_BATCH) continue
      await new Promise((resolve) => setTimeout(resolve, SEAL_GAP_MS))
      if (!woken) await pause(SEAL_INTERVAL_MS)
      woken = false
    }
  })()
  return {
    /** After an append: seal soon (AuditLog.ts wakes its sealer the same way). */
    wake: () => {
      woken = true
      wakeUp()
    },
    stop: async () => {
      stopped = true
      wakeUp()
      await loop
      await driver.query(SEALER_SQL.release, [owner]).catch(() => {})
    }
  }
}
