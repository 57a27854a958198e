/**
 * SQL for the machines table, and nothing else. Every row is decoded into a
 * `MachineRecord` here; a row that may be absent comes back as an Option.
 * SQL errors stay in the error channel (the services make them defects);
 * a row that does not decode is a defect at once (see rowDefect.ts).
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { Bytes } from "../db/columns.js"
import { rowDefect } from "../db/rowDefect.js"
import { uniqueViolation } from "../db/uniqueViolation.js"
import { HostnameTaken } from "../enrollment/EnrollmentErrors.js"
import { Hardware, MachineId, MachineRecord, MachineStatus } from "./Machine.js"

export { toMachine } from "./Machine.js"

const NewMachine = Schema.Struct({
  ek_fingerprint: Schema.String,
  ek_public_pem: Schema.String,
  ek_certificate: Schema.NullOr(Schema.String),
  hostname: Schema.String,
  hardware: Schema.parseJson(Hardware)
})
export type NewMachine = typeof NewMachine.Type

const StatusUpdate = Schema.Struct({
  id: MachineId,
  status: MachineStatus,
  statusBeforeLock: Schema.NullOr(MachineStatus),
  reason: Schema.NullOr(Schema.String),
  resetFailures: Schema.Boolean,
  /** Set on approval: who approved (and `approved_at` becomes now). */
  approvedBy: Schema.NullOr(Schema.String)
})

const StatusCount = Schema.Struct({ status: MachineStatus, count: Schema.Number })
const SessionCount = Schema.Struct({ count: Schema.Number })

/** The keys that passed credential activation. */
const EnrolledKeys = Schema.Struct({
  id: MachineId,
  ek_public_tpm: Bytes,
  ak_public: Bytes,
  ak_name: Bytes,
  ek_cert_verified: Schema.Boolean
})

export interface MachineFilter {
  readonly status?: MachineStatus | undefined
  readonly hostname?: string | undefined
  readonly limit: number
  readonly offset: number
}

export class MachineRepo extends Effect.Service<MachineRepo>()("@itl-attestation/core/MachineRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const findById = (id: MachineId) =>
      SqlSchema.findOne({
        Request: MachineId,
        Result: MachineRecord,
        execute: (id) => sql`SELECT * FROM machines WHERE id = ${id}`
      })(id).pipe(rowDefect)

    /** Locks the row until the transaction ends, so concurrent transitions serialise. */
    const findByIdForUpdate = (id: MachineId) =>
      SqlSchema.findOne({
        Request: MachineId,
        Result: MachineRecord,
        execute: (id) => sql`SELECT * FROM machines WHERE id = ${id} FOR UPDATE`
      })(id).pipe(rowDefect)

    const findByFingerprint = (fingerprint: string) =>
      SqlSchema.findOne({
        Request: Schema.String,
        Result: MachineRecord,
        execute: (fingerprint) => sql`SELECT * FROM machines WHERE ek_fingerprint = ${fingerprint}`
      })(fingerprint).pipe(rowDefect)

    /** As findByFingerprint, locking the row until the transaction ends (registration of a known EK). */
    const findByFingerprintForUpdate = (fingerprint: string) =>
      SqlSchema.findOne({
        Request: Schema.String,
        Result: MachineRecord,
        execute: (fingerprint) => sql`SELECT * FROM machines WHERE ek_fingerprint = ${fingerprint} FOR UPDATE`
      })(fingerprint).pipe(rowDefect)

    /** Hostnames are compared case-insensitively, as DNS does. */
    const findByHostname = (hostname: string) =>
      SqlSchema.findAll({
        Request: Schema.String,
        Result: MachineRecord,
        execute: (hostname) => sql`SELECT * FROM machines WHERE lower(hostname) = lower(${hostname})`
      })(hostname).pipe(rowDefect)

    /**
     * Inserts unless the EK is already known; some(row) only when it was
     * inserted. A hostname another machine holds (case-insensitively, the
     * unique index machines_hostname_lower_key) fails with HostnameTaken: the
     * index, not a prior lookup, is what holds against concurrent registrations.
     */
    const insert = (machine: NewMachine) =>
      SqlSchema.findOne({
        Request: NewMachine,
        Result: MachineRecord,
        execute: (m) =>
          sql`INSERT INTO machines (ek_fingerprint, ek_public_pem, ek_certificate, hostname, hardware, status)
            VALUES (${m.ek_fingerprint}, ${m.ek_public_pem}, ${m.ek_certificate}, ${m.hostname}, ${m.hardware}::jsonb, 'pending_approval')
            ON CONFLICT (ek_fingerprint) DO NOTHING RETURNING *`
      })(machine).pipe(
        rowDefect,
        Effect.catchIf(
          (error) => uniqueViolation(error, "machines_hostname_lower_key"),
          () => Effect.fail(new HostnameTaken({ hostname: machine.hostname }))
        )
      )

    /** Call with the row locked (findByIdForUpdate): the machine is there. */
    const updateStatus = (update: typeof StatusUpdate.Type) =>
      SqlSchema.single({
        Request: StatusUpdate,
        Result: MachineRecord,
        execute: (u) =>
          sql`UPDATE machines SET status = ${u.status}, status_before_lock = ${u.statusBeforeLock},
              status_reason = ${u.reason}, updated_at = now(),
              failed_attestations = CASE WHEN ${u.resetFailures} THEN 0 ELSE failed_attestations END,
              approved_at = CASE WHEN ${u.approvedBy}::text IS NULL THEN approved_at ELSE now() END,
              approved_by = COALESCE(${u.approvedBy}::text, approved_by)
            WHERE id = ${u.id} RETURNING *`
      })(update).pipe(rowDefect)

    const remove = (id: MachineId) =>
      SqlSchema.void({ Request: MachineId, execute: (id) => sql`DELETE FROM machines WHERE id = ${id}` })(id).pipe(rowDefect)

    /** Binds the keys that passed credential activation; call with the row locked. */
    const markEnrolled = (keys: typeof EnrolledKeys.Type) =>
      SqlSchema.single({
        Request: EnrolledKeys,
        Result: MachineRecord,
        execute: (k) =>
          sql`UPDATE machines SET ek_verified = true, ek_public_tpm = ${k.ek_public_tpm},
              ak_public = ${k.ak_public}, ak_name = ${k.ak_name}, ek_cert_verified = ${k.ek_cert_verified},
              enrolled_at = now(), updated_at = now()
            WHERE id = ${k.id} RETURNING *`
      })(keys).pipe(rowDefect)

    const Total = Schema.Struct({ total: Schema.Number })

    const list = (filter: MachineFilter) =>
      Effect.gen(function* () {
        const where = sql.and(
          [
            filter.status === undefined ? undefined : sql`status = ${filter.status}`,
            filter.hostname === undefined ? undefined : sql`lower(hostname) = lower(${filter.hostname})`
          ].filter((c) => c !== undefined)
        )
        const { total } = yield* SqlSchema.single({
          Request: Schema.Void,
          Result: Total,
          execute: () => sql`SELECT count(*)::int AS total FROM machines WHERE ${where}`
        })(undefined)
        const rows = yield* SqlSchema.findAll({
          Request: Schema.Void,
          Result: MachineRecord,
          execute: () => sql`SELECT * FROM machines WHERE ${where} ORDER BY registered_at, id LIMIT ${filter.limit} OFFSET ${filter.offset}`
        })(undefined)
        return { rows, total }
      }).pipe(rowDefect)

    /** One grouped query (an index-only scan of machines_status_idx), not one count per status. */
    const countByStatus = SqlSchema.findAll({
      Request: Schema.Void,
      Result: StatusCount,
      execute: () => sql`SELECT status, count(*)::int AS count FROM machines GROUP BY status`
    })

    /** Unexpired sessions of machines whose status lets a session authenticate (sessions/MachineAuthenticationLive.ts). */
    const countLiveSessions = SqlSchema.single({
      Request: Schema.Void,
      Result: SessionCount,
      execute: () => sql`SELECT count(*)::int AS count FROM machine_sessions s JOIN machines m ON m.id = s.machine_id
        WHERE s.expires_at > now() AND m.status IN ('approved', 'attested')`
    })

    return {
      findById,
      findByIdForUpdate,
      findByFingerprint,
      findByFingerprintForUpdate,
      findByHostname,
      insert,
      updateStatus,
      remove,
      list,
      markEnrolled,
      countByStatus: () => countByStatus(undefined).pipe(rowDefect),
      countLiveSessions: () => countLiveSessions(undefined).pipe(rowDefect)
    } as const
  })
}) {}
