/**
 * Machine session tokens: issued after a good attestation, random, stored as
 * SHA-256 hashes with an expiry. Lock and revoke end a machine's sessions.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Duration, Effect, Schema } from "effect"
import { AppConfig } from "../config/AppConfig.js"
import { Timestamp } from "../db/columns.js"
import { rowDefect } from "../db/rowDefect.js"
import { MachineId, MachineStatus } from "../machines/Machine.js"
import { generateToken, hashToken } from "../operators/tokenHash.js"

/** The machine a session (or, in the compatibility mode, a fingerprint) names. */
export class SessionMachine extends Schema.Class<SessionMachine>("SessionMachine")({
  id: MachineId,
  ek_fingerprint: Schema.String,
  hostname: Schema.String,
  status: MachineStatus
}) {}

const NewSession = Schema.Struct({ tokenHash: Schema.String, machineId: MachineId, ttlSeconds: Schema.Number })
const Expiry = Schema.Struct({ expires_at: Timestamp })
const Count = Schema.Struct({ n: Schema.Number })

export class MachineSessions extends Effect.Service<MachineSessions>()("@itl-attestation/core/MachineSessions", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const config = yield* AppConfig
    const ttlSeconds = Duration.toSeconds(config.tpm.machineSessionTtl)

    const store = SqlSchema.single({
      Request: NewSession,
      Result: Expiry,
      execute: (s) =>
        sql`INSERT INTO machine_sessions (token_hash, machine_id, expires_at)
          VALUES (${s.tokenHash}, ${s.machineId}, now() + make_interval(secs => ${s.ttlSeconds})) RETURNING expires_at`
    })

    /** Call inside the attestation's transaction. */
    const issue = (machineId: MachineId) =>
      Effect.gen(function* () {
        const token = generateToken("itl_ms")
        const row = yield* store({ tokenHash: hashToken(token), machineId, ttlSeconds })
        // Expired sessions are dead weight; clearing this machine's keeps the table small.
        yield* sql`DELETE FROM machine_sessions WHERE machine_id = ${machineId} AND expires_at < now()`
        return { token, expiresAt: row.expires_at }
      }).pipe(rowDefect)

    /** The live session's machine, whatever its status (the caller decides what the status allows). */
    const lookup = (token: string) =>
      SqlSchema.findOne({
        Request: Schema.String,
        Result: SessionMachine,
        execute: (tokenHash) =>
          sql`SELECT m.id, m.ek_fingerprint, m.hostname, m.status
            FROM machine_sessions s JOIN machines m ON m.id = s.machine_id
            WHERE s.token_hash = ${tokenHash} AND s.expires_at > now()`
      })(hashToken(token)).pipe(rowDefect)

    /** The machine with this EK fingerprint (for the insecure header-only compatibility mode). */
    const lookupByFingerprint = (fingerprint: string) =>
      SqlSchema.findOne({
        Request: Schema.String,
        Result: SessionMachine,
        execute: (fingerprint) => sql`SELECT id, ek_fingerprint, hostname, status FROM machines WHERE ek_fingerprint = ${fingerprint}`
      })(fingerprint).pipe(rowDefect)

    const endAll = (machineId: MachineId) => sql`DELETE FROM machine_sessions WHERE machine_id = ${machineId}`

    /** For the metrics extension. */
    const countLive = SqlSchema.single({
      Request: Schema.Void,
      Result: Count,
      execute: () => sql`SELECT count(*)::int AS n FROM machine_sessions WHERE expires_at > now()`
    })(undefined).pipe(
      Effect.map((row) => row.n),
      rowDefect
    )

    return { issue, lookup, lookupByFingerprint, endAll, countLive } as const
  })
}) {}
