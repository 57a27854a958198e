/**
 * Child program: the FLOOR. A bare node:http server that issues the same SQL
 * statements as the real server for the two benchmarked endpoints, through a
 * plain `pg` Pool with as many connections as the server has (10 on
 * PostgreSQL, 1 on PGlite), and no framework, schema decoding, middleware,
 * tracing or logging. What the real server costs above this is the price of
 * its stack.
 *
 * argv[2]: JSON { databaseUrl?: string, dataDir?: string, resetHostnamePrefix: string }
 *   databaseUrl: a PostgreSQL database the real server has already migrated;
 *   otherwise dataDir: the real server's embedded data directory (the server
 *   must be stopped), opened here with PGlite and served on a Unix socket
 *   exactly as the real server does it.
 */
import * as crypto from "node:crypto"
import * as http from "node:http"
import { serveUntilStopped } from "./child.js"
import { HttpError, openDatabase } from "./floorCommon.js"

const config = JSON.parse(process.argv[2])

// Statements copied from the core (packages/core/src/...): keep them in step.
const SQL = {
  // operators/OperatorTokens.ts authenticate
  tokenByHash: "SELECT * FROM operator_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
  touchToken: "UPDATE operator_tokens SET last_used_at = now() WHERE id = $1",
  // machines/MachineRepo.ts, used by enrollment/Enrollment.ts register (no AK: no challenge) and machines/Machines.ts get
  machineById: "SELECT * FROM machines WHERE id = $1",
  machineByFingerprint: "SELECT * FROM machines WHERE ek_fingerprint = $1",
  machinesByHostname: "SELECT * FROM machines WHERE lower(hostname) = lower($1)",
  insertMachine: `INSERT INTO machines (ek_fingerprint, ek_public_pem, ek_certificate, hostname, hardware, status)
    VALUES ($1, $2, $3, $4, $5::jsonb, 'pending_approval')
    ON CONFLICT (ek_fingerprint) DO NOTHING RETURNING *`,
  // audit/AuditLog.ts append: the row goes in unsealed; the sealer links it into the chain later, in batches
  insertAudit: `INSERT INTO audit_log (at, actor, actor_kind, action, target_type, target_id, details)
    VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
  // events/Events.ts append
  insertEvent: `INSERT INTO events (event_type, timestamp, machine_id, data)
    VALUES ($1, $2, $3, $4::jsonb)
    RETURNING seq::text AS seq, id, event_type, timestamp, machine_id, data`
}

const LAST_USED_PRECISION_MS = 60_000
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

const iso = (date) => (date === null ? null : date.toISOString())
/** The API's Machine (machines/Machine.ts, MachineRepo.ts toMachine). */
const machineJson = (row) => ({
  id: row.id,
  ek_fingerprint: row.ek_fingerprint,
  hostname: row.hostname,
  status: row.status,
  ek_verified: row.ek_verified,
  has_ek_certificate: row.ek_certificate !== null,
  ek_cert_verified: row.ek_cert_verified,
  ak_name: row.ak_name === null ? null : row.ak_name.toString("hex"),
  enrolled_at: iso(row.enrolled_at),
  failed_attestations: row.failed_attestations,
  hardware: row.hardware,
  status_reason: row.status_reason,
  registered_at: row.registered_at.toISOString(),
  updated_at: row.updated_at.toISOString(),
  approved_at: iso(row.approved_at),
  approved_by: row.approved_by,
  last_attested_at: iso(row.last_attested_at)
})

const makeHandlers = (pool) => {
  const lastUsedWritten = new Map()

  const authenticate = async (request) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? "")
    if (match === null) throw new HttpError(401, "missing operator credentials")
    const hash = crypto.createHash("sha256").update(match[1], "utf8").digest("hex")
    const { rows } = await pool.query(SQL.tokenByHash, [hash])
    const token = rows[0]
    if (token === undefined) throw new HttpError(401, "invalid or revoked token")
    const now = Date.now()
    if (now - (lastUsedWritten.get(token.id) ?? 0) > LAST_USED_PRECISION_MS) {
      lastUsedWritten.set(token.id, now)
      await pool.query(SQL.touchToken, [token.id])
    }
    return token
  }

  const getMachine = async (request, id) => {
    await authenticate(request) // every role may read
    if (!UUID.test(id)) throw new HttpError(400, "id must be a UUID")
    const { rows } = await pool.query(SQL.machineById, [id])
    if (rows[0] === undefined) throw new HttpError(404, `machine ${id} not found`)
    return [200, machineJson(rows[0])]
  }

  const register = async (body) => {
    if (typeof body?.ek_public !== "string" || body.ek_public.length === 0) throw new HttpError(400, "ek_public is required")
    if (typeof body.hostname !== "string" || !HOSTNAME.test(body.hostname)) throw new HttpError(400, "hostname is invalid")
    let key
    try {
      key = crypto.createPublicKey({ key: body.ek_public.trim(), format: "pem" })
    } catch {
      throw new HttpError(400, "ek_public is not a PEM SubjectPublicKeyInfo public key")
    }
    const der = key.export({ type: "spki", format: "der" })
    const pem = crypto.createPublicKey({ key: der, format: "der", type: "spki" }).export({ type: "spki", format: "pem" })
    const fingerprint = "sha256:" + crypto.createHash("sha256").update(der).digest("hex")

    const client = await pool.connect()
    try {
      await client.query("BEGIN")
      const known = (await client.query(SQL.machineByFingerprint, [fingerprint])).rows[0]
      if (known !== undefined) {
        await client.query("COMMIT")
        return [200, { machine: machineJson(known), created: false, challenge: null }]
      }
      if ((await client.query(SQL.machinesByHostname, [body.hostname])).rows.length > 0) {
        throw new HttpError(409, `hostname ${body.hostname} is already registered to another EK`)
      }
      const hardware = body.hardware ?? {}
      const [row] = (await client.query(SQL.insertMachine, [fingerprint, pem, null, body.hostname, JSON.stringify(hardware)])).rows
      // (the server re-reads on a lost insert race; rare enough to leave out of the floor)

      const details = { hostname: row.hostname, ek_fingerprint: fingerprint }
      await client.query(SQL.insertAudit, [new Date(), fingerprint, "machine", "machine.registered", "machine", row.id, JSON.stringify(details)])

      const data = { machine_id: row.id, hostname: row.hostname, ek_fingerprint: row.ek_fingerprint, status: row.status }
      await client.query(SQL.insertEvent, ["machine.registered", new Date(), row.id, JSON.stringify(data)])
      await client.query("COMMIT")
      return [200, { machine: machineJson(row), created: true, challenge: null }]
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {})
      throw error
    } finally {
      client.release()
    }
  }

  return { getMachine, register }
}

const readJson = (request) =>
  new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    request.on("data", (chunk) => {
      size += chunk.length
      if (size > 1024 * 1024) reject(new HttpError(413, "body too large"))
      else chunks.push(chunk)
    })
    request.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")))
      } catch {
        reject(new HttpError(400, "body is not JSON"))
      }
    })
    request.on("error", reject)
  })

const GET_MACHINE = /^\/api\/v1\/machines\/([^/?]+)$/

await serveUntilStopped(async () => {
  const database = await openDatabase(config)
  // Both registration runs start from the same rows: drop machines a previous run registered.
  await database.pool.query("DELETE FROM machines WHERE hostname LIKE $1", [`${config.resetHostnamePrefix}%`])
  await database.pool.query("VACUUM ANALYZE machines")
  const handlers = makeHandlers(database.pool)

  let inFlight = 0
  const server = http.createServer(async (request, response) => {
    inFlight++
    let status = 500
    let body
    try {
      const match = request.method === "GET" ? GET_MACHINE.exec(request.url) : null
      if (match !== null) [status, body] = await handlers.getMachine(request, match[1])
      else if (request.method === "POST" && request.url === "/api/v1/machines/register") {
        ;[status, body] = await handlers.register(await readJson(request))
      } else throw new HttpError(404, "not found")
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
      // Handlers whose client went away are still running: let them finish before the pool ends.
      for (let waited = 0; inFlight > 0 && waited < 10_000; waited += 10) await new Promise((r) => setTimeout(r, 10))
      await database.close()
    }
  }
})
