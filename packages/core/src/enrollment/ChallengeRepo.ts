/** SQL for outstanding credential-activation challenges (one per machine, i.e. per EK). */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export interface ChallengeRow {
  readonly machine_id: string
  readonly ak_public: Buffer
  readonly ak_name: Buffer
  readonly ek_public_tpm: Buffer
  readonly ek_cert_verified: boolean
  readonly secret_hash: Buffer
  /** The credential as sent (null for challenges issued before it was kept). */
  readonly credential_blob: Buffer | null
  readonly encrypted_secret: Buffer | null
  readonly created_at: Date
  readonly expires_at: Date
  /** Computed by the database, so several instances agree on time. */
  readonly age_ms: number
  readonly expired: boolean
}

export class ChallengeRepo extends Effect.Service<ChallengeRepo>()("@itl-attestation/core/ChallengeRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const selectForUpdate = (machineId: string) =>
      Effect.map(
        sql<ChallengeRow>`SELECT *, (EXTRACT(EPOCH FROM (now() - created_at)) * 1000)::float8 AS age_ms,
            expires_at < now() AS expired
          FROM enrollment_challenges WHERE machine_id = ${machineId} FOR UPDATE`,
        (rows) => rows[0]
      )

    const upsert = (row: {
      machine_id: string
      ak_public: Buffer
      ak_name: Buffer
      ek_public_tpm: Buffer
      ek_cert_verified: boolean
      secret_hash: Buffer
      credential_blob: Buffer
      encrypted_secret: Buffer
      ttlSeconds: number
    }) =>
      Effect.map(
        sql<{ expires_at: Date }>`INSERT INTO enrollment_challenges
            (machine_id, ak_public, ak_name, ek_public_tpm, ek_cert_verified, secret_hash, credential_blob, encrypted_secret,
             created_at, expires_at)
          VALUES (${row.machine_id}, ${row.ak_public}, ${row.ak_name}, ${row.ek_public_tpm}, ${row.ek_cert_verified},
                  ${row.secret_hash}, ${row.credential_blob}, ${row.encrypted_secret}, now(),
                  now() + make_interval(secs => ${row.ttlSeconds}))
          ON CONFLICT (machine_id) DO UPDATE SET ak_public = EXCLUDED.ak_public, ak_name = EXCLUDED.ak_name,
            ek_public_tpm = EXCLUDED.ek_public_tpm, ek_cert_verified = EXCLUDED.ek_cert_verified,
            secret_hash = EXCLUDED.secret_hash, credential_blob = EXCLUDED.credential_blob,
            encrypted_secret = EXCLUDED.encrypted_secret, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
          RETURNING expires_at`,
        (rows) => rows[0]!.expires_at
      )

    const remove = (machineId: string) => sql`DELETE FROM enrollment_challenges WHERE machine_id = ${machineId}`

    return { selectForUpdate, upsert, remove } as const
  })
}) {}
