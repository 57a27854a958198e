/** SQL for attestation: nonces, the machine's attestation columns, and the PCR policies. */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import type { MachineRow } from "../machines/MachineRepo.js"
import type { PcrValuesJson } from "./PcrPolicy.js"

export interface NonceRow {
  readonly machine_id: string
  readonly pcr_selection: string
  readonly expired: boolean
}

/** At most this many unexpired nonces per machine; a further challenge is refused until one is used or expires. */
export const MAX_OUTSTANDING_NONCES = 8

const parseJson = (value: unknown) => (typeof value === "string" ? JSON.parse(value) : value)

export class AttestationRepo extends Effect.Service<AttestationRepo>()("@itl-attestation/core/AttestationRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /**
     * Issues a nonce unless the machine already holds MAX_OUTSTANDING_NONCES
     * unexpired ones; then answers how many seconds until the oldest expires.
     * Call it inside a transaction that holds the machine's row lock.
     */
    const insertNonce = (nonce: Buffer, machineId: string, selection: string, ttlSeconds: number) =>
      Effect.gen(function* () {
        yield* sql`DELETE FROM attestation_nonces WHERE machine_id = ${machineId} AND expires_at < now()`
        const [outstanding] = yield* sql<{ count: number; wait: number | null }>`SELECT count(*)::int AS count,
            ceil(EXTRACT(EPOCH FROM (min(expires_at) - now())))::int AS wait
          FROM attestation_nonces WHERE machine_id = ${machineId}`
        if (outstanding!.count >= MAX_OUTSTANDING_NONCES) return { _tag: "Full" as const, retryAfterSeconds: Math.max(1, outstanding!.wait ?? 1) }
        const [row] = yield* sql<{ expires_at: Date }>`INSERT INTO attestation_nonces (nonce, machine_id, pcr_selection, expires_at)
          VALUES (${nonce}, ${machineId}, ${selection}, now() + make_interval(secs => ${ttlSeconds})) RETURNING expires_at`
        return { _tag: "Issued" as const, expiresAt: row!.expires_at }
      })

    /** Single use: the nonce is gone whatever the outcome. Only the machine it was issued to can spend it. */
    const consumeNonce = (nonce: Buffer, machineId: string) =>
      Effect.map(
        sql<NonceRow>`DELETE FROM attestation_nonces WHERE nonce = ${nonce} AND machine_id = ${machineId}
          RETURNING machine_id, pcr_selection, expires_at < now() AS expired`,
        (rows) => rows[0]
      )

    const recordSuccess = (machineId: string, recordPolicy: PcrValuesJson | undefined) =>
      Effect.map(
        sql<MachineRow>`UPDATE machines SET
            status = CASE WHEN status = 'approved' THEN 'attested' ELSE status END,
            last_attested_at = now(), failed_attestations = 0, updated_at = now(),
            pcr_policy = COALESCE(pcr_policy, ${recordPolicy === undefined ? null : JSON.stringify(recordPolicy)}::jsonb)
          WHERE id = ${machineId} RETURNING *`,
        (rows) => rows[0]!
      )

    const recordFailure = (machineId: string) =>
      Effect.map(
        sql<MachineRow>`UPDATE machines SET failed_attestations = failed_attestations + 1, updated_at = now()
          WHERE id = ${machineId} RETURNING *`,
        (rows) => rows[0]!
      )

    const setMachinePolicy = (machineId: string, policy: PcrValuesJson | null) =>
      Effect.map(
        sql<MachineRow>`UPDATE machines SET pcr_policy = ${policy === null ? null : JSON.stringify(policy)}::jsonb, updated_at = now()
          WHERE id = ${machineId} RETURNING *`,
        (rows) => rows[0]
      )

    const defaultPolicy = Effect.map(
      sql<{ policy: unknown }>`SELECT policy FROM pcr_policy_default`,
      (rows) => (rows[0] === undefined ? undefined : (parseJson(rows[0].policy) as PcrValuesJson))
    )

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
      deleteDefaultPolicy,
      parseJson
    } as const
  })
}) {}
