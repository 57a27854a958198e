/** SQL for attestation: nonces, the machine's attestation columns, and the PCR policies. */
import { SqlClient, SqlSchema } from "@effect/sql"
import { type DateTime, Effect, Option, Schema } from "effect"
import { Bytes, jsonb, Timestamp } from "../db/columns.js"
import { rowDefect } from "../db/rowDefect.js"
import { MachineId, MachineRecord } from "../machines/Machine.js"
import { MAX_OUTSTANDING_NONCES } from "./AttestationErrors.js"
import { StoredPcrValues, type PcrValuesJson } from "./PcrPolicy.js"

export { MAX_OUTSTANDING_NONCES } from "./AttestationErrors.js"

export class NonceRecord extends Schema.Class<NonceRecord>("NonceRecord")({
  machine_id: MachineId,
  pcr_selection: Schema.String,
  /** Computed by the database, so several instances agree on time. */
  expired: Schema.Boolean
}) {}

export type NonceIssue =
  | { readonly _tag: "Issued"; readonly expiresAt: DateTime.Utc }
  | { readonly _tag: "Full"; readonly retryAfterSeconds: number }

const NewNonce = Schema.Struct({ nonce: Bytes, machineId: MachineId, selection: Schema.String, ttlSeconds: Schema.Number })
const Outstanding = Schema.Struct({ count: Schema.Number, wait: Schema.NullOr(Schema.Number) })
const Expiry = Schema.Struct({ expires_at: Timestamp })
const SpentNonce = Schema.Struct({ nonce: Bytes, machineId: MachineId })
const PolicyRequest = Schema.Struct({ machineId: MachineId, policy: Schema.NullOr(Schema.parseJson(StoredPcrValues)) })
const DefaultPolicy = Schema.Struct({ policy: jsonb(StoredPcrValues) })

export class AttestationRepo extends Effect.Service<AttestationRepo>()("@itl-attestation/core/AttestationRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const outstanding = SqlSchema.single({
      Request: MachineId,
      Result: Outstanding,
      execute: (machineId) =>
        sql`SELECT count(*)::int AS count, ceil(EXTRACT(EPOCH FROM (min(expires_at) - now())))::int AS wait
          FROM attestation_nonces WHERE machine_id = ${machineId}`
    })

    const storeNonce = SqlSchema.single({
      Request: NewNonce,
      Result: Expiry,
      execute: (n) =>
        sql`INSERT INTO attestation_nonces (nonce, machine_id, pcr_selection, expires_at)
          VALUES (${n.nonce}, ${n.machineId}, ${n.selection}, now() + make_interval(secs => ${n.ttlSeconds})) RETURNING expires_at`
    })

    /**
     * Issues a nonce unless the machine already holds MAX_OUTSTANDING_NONCES
     * unexpired ones; then answers how many seconds until the oldest expires.
     * Call it inside a transaction that holds the machine's row lock.
     */
    const insertNonce = (nonce: Buffer, machineId: MachineId, selection: string, ttlSeconds: number) =>
      Effect.gen(function* () {
        yield* sql`DELETE FROM attestation_nonces WHERE machine_id = ${machineId} AND expires_at < now()`
        const held = yield* outstanding(machineId)
        if (held.count >= MAX_OUTSTANDING_NONCES) {
          return { _tag: "Full", retryAfterSeconds: Math.max(1, held.wait ?? 1) } satisfies NonceIssue as NonceIssue
        }
        const row = yield* storeNonce({ nonce, machineId, selection, ttlSeconds })
        return { _tag: "Issued", expiresAt: row.expires_at } satisfies NonceIssue as NonceIssue
      }).pipe(rowDefect)

    /** Single use: the nonce is gone whatever the outcome. Only the machine it was issued to can spend it. */
    const consumeNonce = (nonce: Buffer, machineId: MachineId) =>
      SqlSchema.findOne({
        Request: SpentNonce,
        Result: NonceRecord,
        execute: (n) =>
          sql`DELETE FROM attestation_nonces WHERE nonce = ${n.nonce} AND machine_id = ${n.machineId}
            RETURNING machine_id, pcr_selection, expires_at < now() AS expired`
      })({ nonce, machineId }).pipe(rowDefect)

    /** A good attestation: `approved` becomes `attested`, the failure count restarts; call with the row locked. */
    const recordSuccess = (machineId: MachineId, recordPolicy: PcrValuesJson | undefined) =>
      SqlSchema.single({
        Request: PolicyRequest,
        Result: MachineRecord,
        execute: (r) =>
          sql`UPDATE machines SET
              status = CASE WHEN status = 'approved' THEN 'attested' ELSE status END,
              last_attested_at = now(), failed_attestations = 0, updated_at = now(),
              pcr_policy = COALESCE(pcr_policy, ${r.policy}::jsonb)
            WHERE id = ${r.machineId} RETURNING *`
      })({ machineId, policy: recordPolicy ?? null }).pipe(rowDefect)

    /** Call with the row locked. */
    const recordFailure = (machineId: MachineId) =>
      SqlSchema.single({
        Request: MachineId,
        Result: MachineRecord,
        execute: (id) =>
          sql`UPDATE machines SET failed_attestations = failed_attestations + 1, updated_at = now()
            WHERE id = ${id} RETURNING *`
      })(machineId).pipe(rowDefect)

    /** none when there is no such machine. */
    const setMachinePolicy = (machineId: MachineId, policy: PcrValuesJson | null) =>
      SqlSchema.findOne({
        Request: PolicyRequest,
        Result: MachineRecord,
        execute: (r) =>
          sql`UPDATE machines SET pcr_policy = ${r.policy}::jsonb, updated_at = now()
            WHERE id = ${r.machineId} RETURNING *`
      })({ machineId, policy }).pipe(rowDefect)

    /** The global default policy, if one is set. */
    const defaultPolicy = SqlSchema.findOne({
      Request: Schema.Void,
      Result: DefaultPolicy,
      execute: () => sql`SELECT policy FROM pcr_policy_default`
    })(undefined).pipe(Effect.map(Option.map((row) => row.policy)), rowDefect)

    const setDefaultPolicy = (policy: PcrValuesJson, by: string) =>
      sql`INSERT INTO pcr_policy_default (singleton, policy, updated_by) VALUES (true, ${JSON.stringify(policy)}::jsonb, ${by})
        ON CONFLICT (singleton) DO UPDATE SET policy = EXCLUDED.policy, updated_at = now(), updated_by = EXCLUDED.updated_by`

    const deleteDefaultPolicy = sql`DELETE FROM pcr_policy_default`

    return {
      insertNonce,
      consumeNonce,
      recordSuccess,
      recordFailure,
      setMachinePolicy,
      defaultPolicy,
      setDefaultPolicy,
      deleteDefaultPolicy
    } as const
  })
}) {}
