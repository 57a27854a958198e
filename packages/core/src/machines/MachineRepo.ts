/** SQL for the machines table, and nothing else. */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { Machine, type MachineStatus } from "./Machine.js"

export interface MachineRow {
  readonly id: string
  readonly ek_fingerprint: string
  readonly ek_public_pem: string
  readonly ek_certificate: string | null
  readonly hostname: string
  readonly hardware: Record<string, unknown>
  readonly status: MachineStatus
  readonly status_before_lock: MachineStatus | null
  readonly status_reason: string | null
  readonly ek_verified: boolean
  readonly registered_at: Date
  readonly updated_at: Date
  readonly approved_at: Date | null
  readonly approved_by: string | null
  readonly last_attested_at: Date | null
  readonly ek_public_tpm: Buffer | null
  readonly ak_public: Buffer | null
  readonly ak_name: Buffer | null
  readonly ek_cert_verified: boolean
  readonly enrolled_at: Date | null
  readonly pcr_policy: unknown
  readonly failed_attestations: number
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString())

export const toMachine = (row: MachineRow) =>
  new Machine({
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

export interface NewMachine {
  readonly ek_fingerprint: string
  readonly ek_public_pem: string
  readonly ek_certificate: string | null
  readonly hostname: string
  readonly hardware: Record<string, unknown>
}

export interface MachineFilter {
  readonly status?: MachineStatus | undefined
  readonly hostname?: string | undefined
  readonly limit: number
  readonly offset: number
}

export class MachineRepo extends Effect.Service<MachineRepo>()("@itl-attestation/core/MachineRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const findById = (id: string) =>
      Effect.map(sql<MachineRow>`SELECT * FROM machines WHERE id = ${id}`, (rows) => rows[0])

    /** Locks the row until the transaction ends, so concurrent transitions serialise. */
    const findByIdForUpdate = (id: string) =>
      Effect.map(sql<MachineRow>`SELECT * FROM machines WHERE id = ${id} FOR UPDATE`, (rows) => rows[0])

    const findByFingerprint = (fingerprint: string) =>
      Effect.map(sql<MachineRow>`SELECT * FROM machines WHERE ek_fingerprint = ${fingerprint}`, (rows) => rows[0])

    const findByHostname = (hostname: string) =>
      sql<MachineRow>`SELECT * FROM machines WHERE lower(hostname) = lower(${hostname})`

    /** Inserts unless the EK is already known; returns the row only when it was inserted. */
    const insert = (machine: NewMachine) =>
      Effect.map(
        sql<MachineRow>`INSERT INTO machines (ek_fingerprint, ek_public_pem, ek_certificate, hostname, hardware, status)
          VALUES (${machine.ek_fingerprint}, ${machine.ek_public_pem}, ${machine.ek_certificate},
                  ${machine.hostname}, ${JSON.stringify(machine.hardware)}::jsonb, 'pending_approval')
          ON CONFLICT (ek_fingerprint) DO NOTHING RETURNING *`,
        (rows) => rows[0]
      )

    const updateStatus = (
      id: string,
      change: { status: MachineStatus; statusBeforeLock: MachineStatus | null; reason: string | null; resetFailures?: boolean },
      approvedBy: string | null
    ) =>
      Effect.map(
        sql<MachineRow>`UPDATE machines SET status = ${change.status}, status_before_lock = ${change.statusBeforeLock},
            status_reason = ${change.reason}, updated_at = now(),
            failed_attestations = CASE WHEN ${change.resetFailures === true} THEN 0 ELSE failed_attestations END,
            approved_at = CASE WHEN ${approvedBy}::text IS NULL THEN approved_at ELSE now() END,
            approved_by = COALESCE(${approvedBy}::text, approved_by)
          WHERE id = ${id} RETURNING *`,
        (rows) => rows[0]!
      )

    const remove = (id: string) => sql`DELETE FROM machines WHERE id = ${id}`

    /** Binds the keys that passed credential activation. */
    const markEnrolled = (
      id: string,
      keys: { ek_public_tpm: Buffer; ak_public: Buffer; ak_name: Buffer; ek_cert_verified: boolean }
    ) =>
      Effect.map(
        sql<MachineRow>`UPDATE machines SET ek_verified = true, ek_public_tpm = ${keys.ek_public_tpm},
            ak_public = ${keys.ak_public}, ak_name = ${keys.ak_name}, ek_cert_verified = ${keys.ek_cert_verified},
            enrolled_at = now(), updated_at = now()
          WHERE id = ${id} RETURNING *`,
        (rows) => rows[0]!
      )

    const list = (filter: MachineFilter) =>
      Effect.gen(function* () {
        const where = sql.and(
          [
            filter.status === undefined ? undefined : sql`status = ${filter.status}`,
            filter.hostname === undefined ? undefined : sql`lower(hostname) = lower(${filter.hostname})`
          ].filter((c) => c !== undefined)
        )
        const [count] = yield* sql<{ total: number }>`SELECT count(*)::int AS total FROM machines WHERE ${where}`
        const rows = yield* sql<MachineRow>`SELECT * FROM machines WHERE ${where}
          ORDER BY registered_at, id LIMIT ${filter.limit} OFFSET ${filter.offset}`
        return { rows, total: count!.total }
      })

    return { findById, findByIdForUpdate, findByFingerprint, findByHostname, insert, updateStatus, remove, list, markEnrolled } as const
  })
}) {}
