/**
 * Machine session tokens: issued after a good attestation, random, stored as
 * SHA-256 hashes with an expiry. Lock and revoke end a machine's sessions.
 */
import { SqlClient } from "@effect/sql"
import { Duration, Effect } from "effect"
import { AppConfig } from "../config/AppConfig.js"
import type { MachineStatus } from "../machines/Machine.js"
import { generateToken, hashToken } from "../operators/tokenHash.js"

export interface SessionMachineRow {
  readonly id: string
  readonly ek_fingerprint: string
  readonly hostname: string
  readonly status: MachineStatus
}

export class MachineSessions extends Effect.Service<MachineSessions>()("@itl-attestation/core/MachineSessions", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const config = yield* AppConfig
    const ttlSeconds = Duration.toSeconds(config.tpm.machineSessionTtl)

    /** Call inside the attestation's transaction. */
    const issue = (machineId: string) =>
      Effect.gen(function* () {
        const token = generateToken("itl_ms")
        const [row] = yield* sql<{ expires_at: Date }>`INSERT INTO machine_sessions (token_hash, machine_id, expires_at)
          VALUES (${hashToken(token)}, ${machineId}, now() + make_interval(secs => ${ttlSeconds})) RETURNING expires_at`
        // Expired sessions are dead weight; clearing this machine's keeps the table small.
        yield* sql`DELETE FROM machine_sessions WHERE machine_id = ${machineId} AND expires_at < now()`
        return { token, expiresAt: row!.expires_at }
      })

    /** The live session's machine, whatever its status (the caller decides what the status allows). */
    const lookup = (token: string) =>
      Effect.map(
        sql<SessionMachineRow>`SELECT m.id, m.ek_fingerprint, m.hostname, m.status
          FROM machine_sessions s JOIN machines m ON m.id = s.machine_id
          WHERE s.token_hash = ${hashToken(token)} AND s.expires_at > now()`,
        (rows) => rows[0]
      )

    const endAll = (machineId: string) => sql`DELETE FROM machine_sessions WHERE machine_id = ${machineId}`

    /** For the metrics extension. */
    const countLive = Effect.map(
      sql<{ n: number }>`SELECT count(*)::int AS n FROM machine_sessions WHERE expires_at > now()`,
      (rows) => rows[0]!.n
    )

    return { issue, lookup, endAll, countLive } as const
  })
}) {}
