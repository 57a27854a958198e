/**
 * Child program: the EFFECT FLOOR of the throughput bench (bench/throughput.js).
 * A minimal Effect HttpApi app, written as an app author would with the
 * service's stack (effect, @effect/platform HttpApi, @effect/platform-node,
 * @effect/sql-pg with the service's pool size: 10 on PostgreSQL, 1 on PGlite):
 * two bearer-token security middlewares (operator token and machine session,
 * each an SQL look-up as the core does), endpoint schemas of the service's
 * request and response shapes (effectFloorApi.js), and handlers issuing the service's SQL
 * statements in the same transactions with the same crypto (floorWork.js).
 * Best the stack can do: tracer disabled, no request logging, log level
 * Warning; no pipeline, no audit/event framework, inline SQL; the service's
 * background audit sealing, its statements in an Effect fiber as the service runs it.
 *
 * argv[2]: JSON as bench/lib/bareFloor.js.
 */
import { HttpApiBuilder, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Logger, LogLevel, ManagedRuntime, Queue, Redacted } from "effect"
import * as crypto from "node:crypto"
import { createServer } from "node:http"
import { serveUntilStopped } from "./child.js"
import { openEmbedded } from "./floorCommon.js"
import { linkRows, SEAL_BATCH, SEAL_GAP_MS, SEAL_INTERVAL_MS, SEAL_LEASE_SECONDS, SEALER_SQL } from "./floorSealer.js"
import {
  ACTIVE, DEFAULT_PCR_SELECTION, gcmOpen, generateToken, hashToken, keyIdOf, LAST_USED_PRECISION_MS, MAX_OUTSTANDING_NONCES,
  machineEventData, machineSecretAad, NO_CHALLENGE, NONCE_TTL_SECONDS, parsePemEk, parseQuote, pcrSelectionMatches,
  policyProblems, sealForTpm, selectionOf, SESSION_TTL_SECONDS, signedBy
} from "./floorWork.js"
import {
  Api, BadRequest, Conflict, CurrentMachine, Forbidden, MachineAuth, NotFound, OperatorAuth, TooManyRequests, toMachine, Unauthorized
} from "./effectFloorApi.js"

const config = JSON.parse(process.argv[2])
const MASTER_KEY = Buffer.from(config.masterKey, "hex")
const MASTER_KEY_ID = keyIdOf(MASTER_KEY)
const SHARED_KEY = Buffer.from(config.sharedMasterKey, "hex")

// ---- middlewares
const MachineAuthLive = Layer.effect(MachineAuth, Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return {
    session: (token) => Effect.gen(function* () {
      const [machine] = yield* sql`SELECT m.id, m.ek_fingerprint, m.hostname, m.status
        FROM machine_sessions s JOIN machines m ON m.id = s.machine_id
        WHERE s.token_hash = ${hashToken(Redacted.value(token))} AND s.expires_at > now()`
      if (machine === undefined) return yield* new Unauthorized({ message: "invalid or expired machine session; attest again" })
      if (!ACTIVE.has(machine.status)) return yield* new Unauthorized({ message: `machine ${machine.id} is ${machine.status}` })
      return machine
    }).pipe(Effect.catchTag("SqlError", Effect.die))
  }
}))

const OperatorAuthLive = Layer.effect(OperatorAuth, Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const lastUsedWritten = new Map()
  return {
    token: (token) => Effect.gen(function* () {
      const [row] = yield* sql`SELECT * FROM operator_tokens WHERE token_hash = ${hashToken(Redacted.value(token))} AND revoked_at IS NULL`
      if (row === undefined) return yield* new Unauthorized({ message: "invalid or revoked token" })
      const now = Date.now()
      if (now - (lastUsedWritten.get(row.id) ?? 0) > LAST_USED_PRECISION_MS) {
        lastUsedWritten.set(row.id, now)
        yield* sql`UPDATE operator_tokens SET last_used_at = now() WHERE id = ${row.id}`
      }
      return row
    }).pipe(Effect.catchTag("SqlError", Effect.die))
  }
}))

// ---- handlers: the service's statements, in its transactions (comments name the source of each)
const audit = (sql, actor, action, targetType, targetId, details) =>
  sql`INSERT INTO audit_log (at, actor, actor_kind, action, target_type, target_id, details)
    VALUES (${new Date()}, ${actor}, ${"machine"}, ${action}, ${targetType}, ${targetId}, ${JSON.stringify(details)}::jsonb)`.pipe(
    Effect.zipRight(Queue.offer(sealerWake, undefined))
  )

// ---- the audit sealer, as the service runs it (core audit/AuditLog.ts, AuditSealer.ts; statements in floorSealer.js)
const sealerWake = Effect.runSync(Queue.sliding(1))
const sealerKey = crypto.randomBytes(32)
const sealerOwner = crypto.randomUUID()
const sealPass = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const [waiting] = yield* sql.unsafe(SEALER_SQL.pending)
  if (waiting?.pending !== true) return 0
  return yield* sql.withTransaction(Effect.gen(function* () {
    const [{ horizon }] = yield* sql.unsafe(SEALER_SQL.horizon)
    if ((yield* sql.unsafe(SEALER_SQL.lease, [sealerOwner, SEAL_LEASE_SECONDS, sealerOwner])).length === 0) return 0
    const [last] = yield* sql.unsafe(SEALER_SQL.last)
    const rows = yield* sql.unsafe(SEALER_SQL.unsealed, [horizon, SEAL_BATCH])
    if (rows.length === 0) return 0
    const sealed = linkRows(sealerKey, last, rows)
    yield* sql.unsafe(SEALER_SQL.seal, [JSON.stringify(sealed)])
    return sealed.length
  }))
})
const sealing = sealPass.pipe(
  Effect.flatMap((sealed) => sealed >= SEAL_BATCH
    ? Effect.void
    : Effect.zipRight(Effect.sleep(SEAL_GAP_MS), Queue.take(sealerWake).pipe(Effect.timeout(SEAL_INTERVAL_MS), Effect.ignore))),
  Effect.catchAllCause((cause) => Effect.logWarning("floor sealer pass failed", cause)),
  Effect.forever
)
const SealerLive = Layer.scopedDiscard(Effect.gen(function* () {
  yield* Effect.forkScoped(sealing)
  yield* Effect.addFinalizer(() => Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SEALER_SQL.release, [sealerOwner])).pipe(Effect.ignore))
}))
const event = (sql, type, machineId, data) =>
  sql`INSERT INTO events (event_type, timestamp, machine_id, data)
    VALUES (${type}, ${new Date()}, ${machineId}, ${JSON.stringify(data)}::jsonb)
    RETURNING seq::text AS seq, id, event_type, timestamp, machine_id, data`
const dieOnSql = Effect.catchTag("SqlError", Effect.die)

const SecretsLive = HttpApiBuilder.group(Api, "secrets", (handlers) => Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return handlers
    // secret-vault SharedSecrets.ts readByName
    .handle("shared", ({ path: { name } }) => Effect.gen(function* () {
      const machine = yield* CurrentMachine
      const { row, access } = yield* sql.withTransaction(Effect.gen(function* () {
        const [row] = yield* sql`SELECT * FROM extension_shared_secrets WHERE name = ${name}`
        if (row === undefined) return yield* new NotFound({ message: `no shared secret named ${name}` })
        const [access] = yield* sql`UPDATE extension_shared_secret_access
          SET access_count = access_count + 1, last_accessed_at = now()
          WHERE shared_secret_id = ${row.shared_secret_id} AND machine_id = ${machine.id} RETURNING last_accessed_at`
        if (access === undefined) return yield* new Forbidden({ message: `this machine has no access to ${name}` })
        yield* audit(sql, machine.ek_fingerprint, "shared_secret.accessed", "shared_secret", row.shared_secret_id, { name, machine_id: machine.id })
        yield* event(sql, "shared_secret.accessed", machine.id, { shared_secret_id: row.shared_secret_id, name: row.name })
        return { row, access }
      }))
      const value = gcmOpen(SHARED_KEY, row.nonce, row.encrypted_value, row.tag, `extension_shared_secrets:${row.shared_secret_id}`)
      return { name, value: value.toString("utf8"), accessed_at: access.last_accessed_at }
    }).pipe(dieOnSql))
    // secret-vault MachineSecrets.ts read, delivery.ts sealForTpm
    .handle("machine", ({ path: { id, name } }) => Effect.gen(function* () {
      const current = yield* CurrentMachine
      if (current.id !== id) return yield* new NotFound({ message: `no secret named ${name} for this machine` })
      const [machine] = yield* sql`SELECT * FROM machines WHERE id = ${id}`
      if (machine === undefined) return yield* new NotFound({ message: `machine ${id} not found` })
      if (machine.ek_public_tpm === null || machine.ak_name === null) return yield* new Conflict({ message: "this machine has no activated AK" })
      const scheme = "tpm2-credential-v1"
      const row = yield* sql.withTransaction(Effect.gen(function* () {
        const [row] = yield* sql`UPDATE extension_secrets
          SET access_count = access_count + 1, last_accessed_at = now()
          WHERE machine_id = ${id} AND name = ${name} RETURNING *`
        if (row === undefined) return yield* new NotFound({ message: `no secret named ${name} for this machine` })
        yield* audit(sql, machine.ek_fingerprint, "secret.accessed", "secret", row.secret_id, { machine_id: id, name, scheme })
        yield* event(sql, "secret.accessed", id, { secret_id: row.secret_id, machine_id: id, name, scheme })
        return row
      }))
      if (row.key_id !== MASTER_KEY_ID) return yield* Effect.die(new Error(`secret sealed under ${row.key_id}, not the given master key`))
      const value = gcmOpen(MASTER_KEY, row.nonce, row.encrypted_value, row.tag, machineSecretAad(row))
      return { secret_id: row.secret_id, name, scheme, ...sealForTpm(machine.ek_public_tpm, machine.ak_name, name, value) }
    }).pipe(dieOnSql))
}))

const MachinesLive = HttpApiBuilder.group(Api, "machines", (handlers) => Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return handlers
    // core enrollment/Enrollment.ts register (a PEM EK: no AK, no challenge)
    .handle("register", ({ payload }) => Effect.gen(function* () {
      const ek = yield* Effect.try({ try: () => parsePemEk(payload.ek_public), catch: (e) => new BadRequest({ message: e.message }) })
      return yield* sql.withTransaction(Effect.gen(function* () {
        const [known] = yield* sql`SELECT * FROM machines WHERE ek_fingerprint = ${ek.fingerprint} FOR UPDATE`
        if (known !== undefined) return { machine: known, challenge: null, created: false }
        const sameName = yield* sql`SELECT * FROM machines WHERE lower(hostname) = lower(${payload.hostname})`
        if (sameName.length > 0) return yield* new Conflict({ message: `hostname ${payload.hostname} is already registered to another EK` })
        const [row] = yield* sql`INSERT INTO machines (ek_fingerprint, ek_public_pem, ek_certificate, hostname, hardware, status)
          VALUES (${ek.fingerprint}, ${ek.pem}, ${null}, ${payload.hostname}, ${JSON.stringify(payload.hardware ?? {})}::jsonb, 'pending_approval')
          ON CONFLICT (ek_fingerprint) DO NOTHING RETURNING *`
        yield* audit(sql, ek.fingerprint, "machine.registered", "machine", row.id, { hostname: row.hostname, ek_fingerprint: ek.fingerprint })
        yield* event(sql, "machine.registered", row.id, machineEventData(row))
        return { machine: row, challenge: null, created: true }
      }))
    }).pipe(dieOnSql))
    // core attestation/Attestation.ts challenge
    .handle("challenge", ({ payload: { machine_id } }) => sql.withTransaction(Effect.gen(function* () {
      const [machine] = yield* sql`SELECT * FROM machines WHERE id = ${machine_id} FOR UPDATE`
      if (machine === undefined) return yield* new NotFound({ message: `machine ${machine_id} not found` })
      if (NO_CHALLENGE.has(machine.status)) return yield* new Conflict({ message: `machine is ${machine.status}` })
      // Every bench machine has its trust-on-approve policy; the service reads the default policy only without one.
      const selection = machine.pcr_policy === null ? DEFAULT_PCR_SELECTION : selectionOf(machine.pcr_policy)
      const nonce = crypto.randomBytes(32)
      yield* sql`DELETE FROM attestation_nonces WHERE machine_id = ${machine.id} AND expires_at < now()`
      const [held] = yield* sql`SELECT count(*)::int AS count, ceil(EXTRACT(EPOCH FROM (min(expires_at) - now())))::int AS wait
        FROM attestation_nonces WHERE machine_id = ${machine.id}`
      if (held.count >= MAX_OUTSTANDING_NONCES) return yield* new TooManyRequests({ message: "too many outstanding challenges" })
      const [issued] = yield* sql`INSERT INTO attestation_nonces (nonce, machine_id, pcr_selection, expires_at)
        VALUES (${nonce}, ${machine.id}, ${selection}, now() + make_interval(secs => ${NONCE_TTL_SECONDS})) RETURNING expires_at`
      return { nonce: nonce.toString("hex"), pcr_selection: selection, expires_at: issued.expires_at }
    })).pipe(dieOnSql))
    // core attestation/Attestation.ts attest + verifiedAttempt (success path)
    .handle("attest", ({ payload }) => Effect.gen(function* () {
      const evidence = yield* Effect.try({ try: () => parseQuote(payload), catch: (e) => new BadRequest({ message: e.message }) })
      const [found] = yield* sql`SELECT * FROM machines WHERE id = ${payload.machine_id}`
      if (found === undefined) return yield* new NotFound({ message: `machine ${payload.machine_id} not found` })
      if (!ACTIVE.has(found.status)) return yield* new Conflict({ message: `machine is ${found.status}` })
      if (!found.ek_verified || found.ak_public === null || found.ek_public_tpm === null) return yield* new Conflict({ message: "not enrolled" })
      if (!signedBy(evidence, found)) return yield* new BadRequest({ message: "evidence not signed by the machine's AK" })
      return yield* sql.withTransaction(Effect.gen(function* () {
        const [machine] = yield* sql`SELECT * FROM machines WHERE id = ${payload.machine_id} FOR UPDATE`
        if (!ACTIVE.has(machine.status)) return yield* new Conflict({ message: `machine is ${machine.status}` })
        if (!signedBy(evidence, machine)) return yield* new BadRequest({ message: "wrong_ak" })
        const [nonce] = yield* sql`DELETE FROM attestation_nonces WHERE nonce = ${evidence.attest.extraData} AND machine_id = ${machine.id}
          RETURNING machine_id, pcr_selection, expires_at < now() AS expired`
        if (nonce === undefined || nonce.expired) return yield* new Unauthorized({ message: "nonce_mismatch or nonce_expired" })
        if (!pcrSelectionMatches(evidence, nonce.pcr_selection)) return yield* new Unauthorized({ message: "pcr_selection_mismatch" })
        if (machine.pcr_policy === null || policyProblems(machine.pcr_policy, evidence.values).length > 0) {
          return yield* new Unauthorized({ message: "pcr_mismatch" })
        }
        const [attested] = yield* sql`UPDATE machines SET
            status = CASE WHEN status = 'approved' THEN 'attested' ELSE status END,
            last_attested_at = now(), failed_attestations = 0, updated_at = now(),
            pcr_policy = COALESCE(pcr_policy, ${null}::jsonb)
          WHERE id = ${machine.id} RETURNING *`
        const token = generateToken("itl_ms")
        const [session] = yield* sql`INSERT INTO machine_sessions (token_hash, machine_id, expires_at)
          VALUES (${hashToken(token)}, ${machine.id}, now() + make_interval(secs => ${SESSION_TTL_SECONDS})) RETURNING expires_at`
        yield* sql`DELETE FROM machine_sessions WHERE machine_id = ${machine.id} AND expires_at < now()`
        const details = { previous_status: machine.status, status: attested.status }
        yield* audit(sql, machine.ek_fingerprint, "machine.attested", "machine", machine.id, details)
        yield* event(sql, "machine.attested", machine.id, machineEventData(attested, details))
        return { session_token: token, expires_at: session.expires_at, machine: toMachine(attested) }
      }))
    }).pipe(dieOnSql))
    // core machines/Machines.ts get
    .handle("get", ({ path: { id } }) => Effect.gen(function* () {
      const [row] = yield* sql`SELECT * FROM machines WHERE id = ${id}`
      if (row === undefined) return yield* new NotFound({ message: `machine ${id} not found` })
      return toMachine(row)
    }).pipe(dieOnSql))
}))

// ---- the database, as the service connects (core db/Database.ts), and the server
const databaseLayer = (embedded) =>
  embedded === undefined
    ? PgClient.layer({ url: Redacted.make(config.databaseUrl), maxConnections: 10, transformJson: false })
    : PgClient.layer({ host: embedded.host, port: embedded.port, username: "postgres", database: "postgres", maxConnections: 1, transformJson: false })

/** Earlier registration runs' machines go first, as in bareFloor.js (floorReset.js). */
const resetRegistrations = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DELETE FROM machines WHERE hostname LIKE ${`${config.resetHostnamePrefix}%`}`
  yield* sql`VACUUM ANALYZE machines`
})

await serveUntilStopped(async () => {
  const embedded = config.databaseUrl ? undefined : await openEmbedded(config.dataDir)
  const database = databaseLayer(embedded)
  const app = HttpApiBuilder.serve().pipe(
    Layer.provide(HttpApiBuilder.api(Api).pipe(Layer.provide([
      SecretsLive.pipe(Layer.provide(MachineAuthLive)),
      MachinesLive.pipe(Layer.provide(OperatorAuthLive))
    ]))),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provideMerge(SealerLive),
    Layer.provideMerge(database),
    Layer.provide(Layer.setTracerEnabled(false)),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
  )
  const runtime = ManagedRuntime.make(app)
  await runtime.runPromise(resetRegistrations)
  const address = await runtime.runPromise(Effect.map(HttpServer.HttpServer, (server) => server.address))
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: async () => {
      await runtime.dispose()
      await embedded?.close()
    }
  }
})
