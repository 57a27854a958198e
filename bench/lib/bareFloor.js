/**
 * Child program: the BARE FLOOR of the throughput bench (bench/throughput.js).
 * node:http and a `pg` Pool with as many connections as the service (10 on
 * PostgreSQL, 1 on PGlite), the service's SQL statements in the same
 * transactions, the same crypto and the same response JSON (floorWork.js), the
 * service's background audit sealing (floorSealer.js), and no framework.
 * Answers the five scenarios' endpoints:
 *   GET  /api/v1/shared-secrets/by-name/{name}/value      (machine session)
 *   GET  /api/v1/secrets/machines/{id}/secrets/{name}     (machine session; TPM-wrapped)
 *   POST /api/v1/machines/register                        (PEM EK)
 *   POST /api/v1/attest/challenge, POST /api/v1/attest
 *   GET  /api/v1/machines/{id}                            (operator token)
 *
 * argv[2]: JSON { databaseUrl? | dataDir?, masterKey, sharedMasterKey, resetHostnamePrefix }
 *   databaseUrl / dataDir: as bench/lib/floorCommon.js openDatabase (PGlite: the service must be stopped);
 *   masterKey: the service's ITL_MASTER_KEY (machine secrets are sealed under it);
 *   sharedMasterKey: its ITL_SHARED_SECRET_MASTER_KEY (shared secret values);
 *   resetHostnamePrefix: machines whose hostname starts with it are deleted first (earlier registration runs).
 */
import * as crypto from "node:crypto"
import * as http from "node:http"
import { serveUntilStopped } from "./child.js"
import { openDatabase } from "./floorCommon.js"
import {
  ACTIVE, BEARER, DEFAULT_PCR_SELECTION, gcmOpen, generateToken, hashToken, HOSTNAME, HttpError, keyIdOf,
  LAST_USED_PRECISION_MS, MAX_OUTSTANDING_NONCES, machineEventData, machineJson, machineSecretAad, NO_CHALLENGE,
  NONCE_TTL_SECONDS, parsePemEk, parseQuote, pcrSelectionMatches, policyProblems, registeredJson, SECRET_NAME,
  sealForTpm, selectionOf, SESSION_TTL_SECONDS, signedBy, SQL, UUID
} from "./floorWork.js"
import { resetRegistrations } from "./floorReset.js"
import { startSealer } from "./floorSealer.js"

const config = JSON.parse(process.argv[2])
const MASTER_KEY = Buffer.from(config.masterKey, "hex")
const MASTER_KEY_ID = keyIdOf(MASTER_KEY)
const SHARED_KEY = Buffer.from(config.sharedMasterKey, "hex")

/** BEGIN … COMMIT on one pooled connection, `work(query)` in between (query answers the rows); ROLLBACK on any error. */
const inTransaction = async (pool, work) => {
  const client = await pool.connect()
  try {
    await client.query("BEGIN")
    const result = await work(async (text, params) => (await client.query(text, params)).rows)
    await client.query("COMMIT")
    return result
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {})
    throw error
  } finally {
    client.release()
  }
}

/** The floor sealer's access to the pool (floorSealer.js). */
const sealerDriver = (pool) => ({
  query: async (text, params) => (await pool.query(text, params)).rows,
  transaction: (work) => inTransaction(pool, work)
})

const makeHandlers = (pool, sealer) => {
  const one = async (text, params) => (await pool.query(text, params)).rows[0]
  /** A transaction whose queries answer their first row. */
  const transaction = (work) => inTransaction(pool, (query) => work(async (text, params) => (await query(text, params))[0]))
  const audit = async (q, actor, action, targetType, targetId, details) => {
    await q(SQL.insertAudit, [new Date(), actor, "machine", action, targetType, targetId, JSON.stringify(details)])
    sealer.wake()
  }
  const event = (q, type, machineId, data) => q(SQL.insertEvent, [type, new Date(), machineId, JSON.stringify(data)])

  const lastUsedWritten = new Map()
  const operator = async (request) => {
    const match = BEARER.exec(request.headers.authorization ?? "")
    if (match === null) throw new HttpError(401, "missing operator credentials")
    const token = await one(SQL.tokenByHash, [hashToken(match[1])])
    if (token === undefined) throw new HttpError(401, "invalid or revoked token")
    const now = Date.now()
    if (now - (lastUsedWritten.get(token.id) ?? 0) > LAST_USED_PRECISION_MS) {
      lastUsedWritten.set(token.id, now)
      await pool.query(SQL.touchToken, [token.id])
    }
    return token
  }

  const machineSession = async (request) => {
    const match = BEARER.exec(request.headers.authorization ?? "")
    if (match === null) throw new HttpError(401, "missing machine credentials")
    const machine = await one(SQL.sessionMachine, [hashToken(match[1])])
    if (machine === undefined) throw new HttpError(401, "invalid or expired machine session; attest again")
    if (!ACTIVE.has(machine.status)) throw new HttpError(401, `machine ${machine.id} is ${machine.status}`)
    return machine
  }

  const sharedSecret = async (request, name) => {
    const machine = await machineSession(request)
    if (!SECRET_NAME.test(name)) throw new HttpError(400, "name is invalid")
    const { row, access } = await transaction(async (q) => {
      const row = await q(SQL.sharedSecretByName, [name])
      if (row === undefined) throw new HttpError(404, `no shared secret named ${name}`)
      const access = await q(SQL.touchSharedAccess, [row.shared_secret_id, machine.id])
      if (access === undefined) throw new HttpError(403, `this machine has no access to ${name}`)
      await audit(q, machine.ek_fingerprint, "shared_secret.accessed", "shared_secret", row.shared_secret_id, { name, machine_id: machine.id })
      await event(q, "shared_secret.accessed", machine.id, { shared_secret_id: row.shared_secret_id, name: row.name })
      return { row, access }
    })
    const value = gcmOpen(SHARED_KEY, row.nonce, row.encrypted_value, row.tag, `extension_shared_secrets:${row.shared_secret_id}`)
    return [200, { name, value: value.toString("utf8"), accessed_at: access.last_accessed_at.toISOString() }]
  }

  const machineSecret = async (request, id, name) => {
    const current = await machineSession(request)
    if (!UUID.test(id) || !SECRET_NAME.test(name)) throw new HttpError(400, "id or name is invalid")
    if (current.id !== id) throw new HttpError(404, `no secret named ${name} for this machine`)
    const machine = await one(SQL.machineById, [id])
    if (machine === undefined) throw new HttpError(404, `machine ${id} not found`)
    if (machine.ek_public_tpm === null || machine.ak_name === null) throw new HttpError(409, "this machine has no activated AK")
    const scheme = "tpm2-credential-v1"
    const row = await transaction(async (q) => {
      const row = await q(SQL.touchMachineSecret, [id, name])
      if (row === undefined) throw new HttpError(404, `no secret named ${name} for this machine`)
      await audit(q, machine.ek_fingerprint, "secret.accessed", "secret", row.secret_id, { machine_id: id, name, scheme })
      await event(q, "secret.accessed", id, { secret_id: row.secret_id, machine_id: id, name, scheme })
      return row
    })
    if (row.key_id !== MASTER_KEY_ID) throw new Error(`secret sealed under ${row.key_id}, not the given master key`)
    const value = gcmOpen(MASTER_KEY, row.nonce, row.encrypted_value, row.tag, machineSecretAad(row))
    return [200, { secret_id: row.secret_id, name, scheme, ...sealForTpm(machine.ek_public_tpm, machine.ak_name, name, value) }]
  }

  const register = async (body) => {
    if (typeof body?.ek_public !== "string" || body.ek_public.length === 0) throw new HttpError(400, "ek_public is required")
    if (typeof body.hostname !== "string" || !HOSTNAME.test(body.hostname)) throw new HttpError(400, "hostname is invalid")
    const { pem, fingerprint } = parsePemEk(body.ek_public)
    return transaction(async (q) => {
      const known = await q(SQL.machineByFingerprintForUpdate, [fingerprint])
      if (known !== undefined) return [200, { machine: registeredJson(known), challenge: null, created: false }]
      if ((await q(SQL.machinesByHostname, [body.hostname])) !== undefined) {
        throw new HttpError(409, `hostname ${body.hostname} is already registered to another EK`)
      }
      const row = await q(SQL.insertMachine, [fingerprint, pem, null, body.hostname, JSON.stringify(body.hardware ?? {})])
      await audit(q, fingerprint, "machine.registered", "machine", row.id, { hostname: row.hostname, ek_fingerprint: fingerprint })
      await event(q, "machine.registered", row.id, machineEventData(row))
      return [201, { machine: registeredJson(row), challenge: null, created: true }]
    })
  }

  const challenge = async (body) => {
    if (typeof body?.machine_id !== "string" || !UUID.test(body.machine_id)) throw new HttpError(400, "machine_id must be a UUID")
    return transaction(async (q) => {
      const machine = await q(SQL.machineByIdForUpdate, [body.machine_id])
      if (machine === undefined) throw new HttpError(404, `machine ${body.machine_id} not found`)
      if (NO_CHALLENGE.has(machine.status)) throw new HttpError(409, `machine is ${machine.status}`)
      // Every bench machine has its trust-on-approve policy; the service reads the default policy only without one.
      const selection = machine.pcr_policy === null ? DEFAULT_PCR_SELECTION : selectionOf(machine.pcr_policy)
      const nonce = crypto.randomBytes(32)
      await q(SQL.deleteExpiredNonces, [machine.id])
      const held = await q(SQL.outstandingNonces, [machine.id])
      if (held.count >= MAX_OUTSTANDING_NONCES) throw new HttpError(429, "too many outstanding challenges")
      const issued = await q(SQL.insertNonce, [nonce, machine.id, selection, NONCE_TTL_SECONDS])
      return [200, { nonce: nonce.toString("hex"), pcr_selection: selection, expires_at: issued.expires_at.toISOString() }]
    })
  }

  const attest = async (body) => {
    if (typeof body?.machine_id !== "string" || !UUID.test(body.machine_id)) throw new HttpError(400, "machine_id must be a UUID")
    const evidence = parseQuote(body)
    const found = await one(SQL.machineById, [body.machine_id])
    if (found === undefined) throw new HttpError(404, `machine ${body.machine_id} not found`)
    if (!ACTIVE.has(found.status)) throw new HttpError(409, `machine is ${found.status}`)
    if (!found.ek_verified || found.ak_public === null || found.ek_public_tpm === null) throw new HttpError(409, "not enrolled")
    if (!signedBy(evidence, found)) throw new HttpError(400, "evidence not signed by the machine's AK")
    return transaction(async (q) => {
      const machine = await q(SQL.machineByIdForUpdate, [body.machine_id])
      if (!ACTIVE.has(machine.status)) throw new HttpError(409, `machine is ${machine.status}`)
      if (!signedBy(evidence, machine)) throw new HttpError(400, "wrong_ak")
      const nonce = await q(SQL.consumeNonce, [evidence.attest.extraData, machine.id])
      if (nonce === undefined || nonce.expired) throw new HttpError(401, "nonce_mismatch or nonce_expired")
      if (!pcrSelectionMatches(evidence, nonce.pcr_selection)) throw new HttpError(401, "pcr_selection_mismatch")
      if (machine.pcr_policy === null || policyProblems(machine.pcr_policy, evidence.values).length > 0) {
        throw new HttpError(401, "pcr_mismatch (the bench's machines all have their trust-on-approve policy)")
      }
      const attested = await q(SQL.recordSuccess, [null, machine.id])
      const token = generateToken("itl_ms")
      const session = await q(SQL.insertSession, [hashToken(token), machine.id, SESSION_TTL_SECONDS])
      await q(SQL.deleteExpiredSessions, [machine.id])
      const details = { previous_status: machine.status, status: attested.status }
      await audit(q, machine.ek_fingerprint, "machine.attested", "machine", machine.id, details)
      await event(q, "machine.attested", machine.id, machineEventData(attested, details))
      return [200, { session_token: token, expires_at: session.expires_at.toISOString(), machine: machineJson(attested) }]
    })
  }

  const getMachine = async (request, id) => {
    await operator(request) // role operator may read machines
    if (!UUID.test(id)) throw new HttpError(400, "id must be a UUID")
    const row = await one(SQL.machineById, [id])
    if (row === undefined) throw new HttpError(404, `machine ${id} not found`)
    return [200, machineJson(row)]
  }

  return { sharedSecret, machineSecret, register, challenge, attest, getMachine }
}

const readJson = (request) =>
  new Promise((resolve, reject) => {
    const chunks = []
    request.on("data", (chunk) => chunks.push(chunk))
    request.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")))
      } catch {
        reject(new HttpError(400, "body is not JSON"))
      }
    })
    request.on("error", reject)
  })

const SHARED = /^\/api\/v1\/shared-secrets\/by-name\/([^/?]+)\/value$/
const MACHINE_SECRET = /^\/api\/v1\/secrets\/machines\/([^/?]+)\/secrets\/([^/?]+)$/
const MACHINE = /^\/api\/v1\/machines\/([^/?]+)$/

const route = async (handlers, request) => {
  const url = request.url
  let match
  if (request.method === "GET") {
    if ((match = SHARED.exec(url)) !== null) return handlers.sharedSecret(request, decodeURIComponent(match[1]))
    if ((match = MACHINE_SECRET.exec(url)) !== null) return handlers.machineSecret(request, match[1], decodeURIComponent(match[2]))
    if ((match = MACHINE.exec(url)) !== null) return handlers.getMachine(request, match[1])
  } else if (request.method === "POST") {
    if (url === "/api/v1/machines/register") return handlers.register(await readJson(request))
    if (url === "/api/v1/attest/challenge") return handlers.challenge(await readJson(request))
    if (url === "/api/v1/attest") return handlers.attest(await readJson(request))
  }
  throw new HttpError(404, "not found")
}

await serveUntilStopped(async () => {
  const database = await openDatabase(config)
  await resetRegistrations(database.pool, config.resetHostnamePrefix)
  const sealer = startSealer(sealerDriver(database.pool))
  const handlers = makeHandlers(database.pool, sealer)

  let inFlight = 0
  const server = http.createServer(async (request, response) => {
    inFlight++
    let status = 500
    let body
    try {
      ;[status, body] = await route(handlers, request)
    } catch (error) {
      status = error instanceof HttpError ? error.status : 500
      body = { error: error instanceof Error ? error.message : String(error) }
      if (status === 500) console.error("bare floor:", error)
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
      await sealer.stop()
      await database.close()
    }
  }
})
