/** SQL for outstanding credential-activation challenges (one per machine, i.e. per EK). */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { Bytes, Timestamp } from "../db/columns.js"
import { rowDefect } from "../db/rowDefect.js"
import { MachineId } from "../machines/Machine.js"

export class ChallengeRecord extends Schema.Class<ChallengeRecord>("ChallengeRecord")({
  machine_id: MachineId,
  ak_public: Bytes,
  ak_name: Bytes,
  ek_public_tpm: Bytes,
  ek_cert_verified: Schema.Boolean,
  secret_hash: Bytes,
  /** The credential as sent (null for challenges issued before it was kept). */
  credential_blob: Schema.NullOr(Bytes),
  encrypted_secret: Schema.NullOr(Bytes),
  created_at: Timestamp,
  expires_at: Timestamp,
  /** Computed by the database, so several instances agree on time. */
  age_ms: Schema.Number,
  expired: Schema.Boolean
}) {}

const NewChallenge = Schema.Struct({
  machine_id: MachineId,
  ak_public: Bytes,
  ak_name: Bytes,
  ek_public_tpm: Bytes,
  ek_cert_verified: Schema.Boolean,
  secret_hash: Bytes,
  credential_blob: Bytes,
  encrypted_secret: Bytes,
  ttlSeconds: Schema.Number
})

const Expiry = Schema.Struct({ expires_at: Timestamp })

export class ChallengeRepo extends Effect.Service<ChallengeRepo>()("@itl-attestation/core/ChallengeRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const selectForUpdate = (machineId: MachineId) =>
      SqlSchema.findOne({
        Request: MachineId,
        Result: ChallengeRecord,
        execute: (machineId) =>
          sql`SELECT *, (EXTRACT(EPOCH FROM (now() - created_at)) * 1000)::float8 AS age_ms,
              expires_at < now() AS expired
            FROM enrollment_challenges WHERE machine_id = ${machineId} FOR UPDATE`
      })(machineId).pipe(rowDefect)

    /** Stores the challenge (replacing the machine's previous one); answers when it expires. */
    const upsert = (challenge: typeof NewChallenge.Type) =>
      SqlSchema.single({
        Request: NewChallenge,
        Result: Expiry,
        execute: (row) =>
          sql`INSERT INTO enrollment_challenges
              (machine_id, ak_public, ak_name, ek_public_tpm, ek_cert_verified, secret_hash, credential_blob, encrypted_secret,
               created_at, expires_at)
            VALUES (${row.machine_id}, ${row.ak_public}, ${row.ak_name}, ${row.ek_public_tpm}, ${row.ek_cert_verified},
                    ${row.secret_hash}, ${row.credential_blob}, ${row.encrypted_secret}, now(),
                    now() + make_interval(secs => ${row.ttlSeconds}))
            ON CONFLICT (machine_id) DO UPDATE SET ak_public = EXCLUDED.ak_public, ak_name = EXCLUDED.ak_name,
              ek_public_tpm = EXCLUDED.ek_public_tpm, ek_cert_verified = EXCLUDED.ek_cert_verified,
              secret_hash = EXCLUDED.secret_hash, credential_blob = EXCLUDED.credential_blob,
              encrypted_secret = EXCLUDED.encrypted_secret, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
            RETURNING expires_at`
      })(challenge).pipe(Effect.map((row) => row.expires_at), rowDefect)

    const remove = (machineId: MachineId) =>
      SqlSchema.void({ Request: MachineId, execute: (id) => sql`DELETE FROM enrollment_challenges WHERE machine_id = ${id}` })(machineId).pipe(
        rowDefect
      )

    return { selectForUpdate, upsert, remove } as const
  })
}) {}
