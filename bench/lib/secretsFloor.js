/**
 * Child program: the FLOOR for bench/secrets.js. A bare node:http server that
 * answers GET /api/v1/shared-secrets/by-name/{name}/value with the same SQL
 * statements as the real server with the secret_vault extension in
 * ITL_MACHINE_AUTH=ek-fingerprint-header mode, through a plain `pg` Pool with
 * as many connections as the server has (10 on PostgreSQL, 1 on PGlite), and
 * no framework. See bench/lib/floor.js for the same idea applied to the core.
 *
 * argv[2]: JSON { databaseUrl?: string, dataDir?: string, sharedMasterKey: string }
 *   databaseUrl or dataDir: as bench/lib/floor.js (PGlite: the server must be stopped);
 *   sharedMasterKey: the server's ITL_SHARED_SECRET_MASTER_KEY (64 hex), which is
 *   the AES-256-GCM key of the stored values.
 */
import * as crypto from "node:crypto"
import * as http from "node:http"
import { serveUntilStopped } from "./child.js"
import { HttpError, openDatabase } from "./floorCommon.js"

const config = JSON.parse(process.argv[2])

// Statements copied from the sources: keep them in step.
const SQL = {
  // core sessions/MachineAuthentication.ts, header mode
  machineByFingerprint: "SELECT id, ek_fingerprint, hostname, status FROM machines WHERE ek_fingerprint = $1",
  // secret-vault SharedSecrets.ts readByName
  secretByName: "SELECT * FROM extension_shared_secrets WHERE name = $1",
  touchAccess: `UPDATE extension_shared_secret_access
              SET access_count = access_count + 1, last_accessed_at = now()
              WHERE shared_secret_id = $1 AND machine_id = $2 RETURNING last_accessed_at`,
  // core audit/AuditLog.ts append
  // audit/AuditLog.ts append: the row goes in unsealed; the sealer links it into the chain later, in batches
  insertAudit: `INSERT INTO audit_log (at, actor, actor_kind, action, target_type, target_id, details)
    VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
  // core events/Events.ts append
  insertEvent: `INSERT INTO events (event_type, timestamp, machine_id, data)
    VALUES ($1, $2, $3, $4::jsonb)
    RETURNING seq::text AS seq, id, event_type, timestamp, machine_id, data`
}

const ACTIVE = new Set(["approved", "attested"])
const SHARED_KEY = Buffer.from(config.sharedMasterKey, "hex")
if (SHARED_KEY.length !== 32) throw new Error("sharedMasterKey must be 64 hex characters")
const SECRET_NAME = /^[A-Za-z0-9._-]{1,128}$/
const VALUE_PATH = /^\/api\/v1\/shared-secrets\/by-name\/([^/?]+)\/value$/

/** secret-vault SharedKeyring.ts gcmOpen. */
const gcmOpen = (key, row, aad) => {
  const decipher = crypto.createDecipheriv("aes-256-gcm", key, row.nonce)
  decipher.setAAD(Buffer.from(aad))
  decipher.setAuthTag(row.tag)
  return Buffer.concat([decipher.update(row.encrypted_value), decipher.final()])
}

const makeReadByName = (pool) => async (request, name) => {
  // Machine authentication, header mode.
  const fingerprint = request.headers["x-ek-fingerprint"]?.trim()
  if (fingerprint === undefined) throw new HttpError(401, "missing machine credentials")
  const machine = (await pool.query(SQL.machineByFingerprint, [fingerprint])).rows[0]
  if (machine === undefined) throw new HttpError(401, "no machine has this EK fingerprint")
  if (!ACTIVE.has(machine.status)) throw new HttpError(401, `machine ${machine.id} is ${machine.status}`)
  if (!SECRET_NAME.test(name)) throw new HttpError(400, "name is invalid")

  const client = await pool.connect()
  let row, accessedAt
  try {
    await client.query("BEGIN")
    row = (await client.query(SQL.secretByName, [name])).rows[0]
    if (row === undefined) throw new HttpError(404, `no shared secret named ${name}`)
    const access = (await client.query(SQL.touchAccess, [row.shared_secret_id, machine.id])).rows[0]
    if (access === undefined) throw new HttpError(403, `this machine has no access to ${name}`)
    accessedAt = access.last_accessed_at

    const details = { name, machine_id: machine.id }
    await client.query(SQL.insertAudit, [
      new Date(), machine.ek_fingerprint, "machine", "shared_secret.accessed", "shared_secret", row.shared_secret_id, JSON.stringify(details)
    ])

    const data = { shared_secret_id: row.shared_secret_id, name: row.name }
    await client.query(SQL.insertEvent, ["shared_secret.accessed", new Date(), machine.id, JSON.stringify(data)])
    await client.query("COMMIT")
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {})
    throw error
  } finally {
    client.release()
  }
  const value = gcmOpen(SHARED_KEY, row, `extension_shared_secrets:${row.shared_secret_id}`)
  return [200, { name, value: value.toString("utf8"), accessed_at: accessedAt.toISOString() }]
}

await serveUntilStopped(async () => {
  const database = await openDatabase(config)
  const readByName = makeReadByName(database.pool)

  let inFlight = 0
  const server = http.createServer(async (request, response) => {
    inFlight++
    let status = 500
    let body
    try {
      const match = request.method === "GET" ? VALUE_PATH.exec(request.url) : null
      if (match === null) throw new HttpError(404, "not found")
      ;[status, body] = await readByName(request, decodeURIComponent(match[1]))
    } catch (error) {
      status = error instanceof HttpError ? error.status : 500
      body = { error: error instanceof Error ? error.message : String(error) }
      if (status === 500) console.error("floor:", error)
    }
    const text = JSON.stringify(body)
    response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
    response.end(text)
    inFlight--
  })
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: async () => {
      await new Promise((resolve) => {
        server.close(resolve)
        server.closeAllConnections()
      })
      for (let waited = 0; inFlight > 0 && waited < 10_000; waited += 10) await new Promise((r) => setTimeout(r, 10))
      await database.close()
    }
  }
})
