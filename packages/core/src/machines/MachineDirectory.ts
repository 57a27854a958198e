/**
 * The machines as extensions see them: read-only. An extension can look a
 * machine up, list machines and read the keys it enrolled (to encrypt to its
 * TPM), but cannot change a machine's status or delete it — lifecycle changes
 * go through the core's endpoints, with their own policies and audit rows.
 */
import { Effect, Option, Schema } from "effect"
import { type Machine, MachineId, type MachineRecord, MachineStatus, toMachine } from "./Machine.js"
import { MachineRepo } from "./MachineRepo.js"

/** What the TPM proved about a machine: its EK, and the AK bound to it by credential activation. */
export interface EnrolledKeys {
  readonly ekFingerprint: string
  /** The EK public key as PEM (SubjectPublicKeyInfo). */
  readonly ekPublicPem: string
  /** The EK's TPM2B_PUBLIC area, once the machine enrolled through credential activation. */
  readonly ekPublicArea: Option.Option<Uint8Array>
  /** The name (TPM2B_NAME) of the activated attestation key. */
  readonly akName: Option.Option<Uint8Array>
}

export interface MachineListFilter {
  readonly status?: MachineStatus | undefined
  readonly limit: number
  readonly offset: number
}

const keysOf = (row: MachineRecord): EnrolledKeys => ({
  ekFingerprint: row.ek_fingerprint,
  ekPublicPem: row.ek_public_pem,
  ekPublicArea: Option.fromNullable(row.ek_public_tpm).pipe(Option.map((b) => new Uint8Array(b))),
  akName: Option.fromNullable(row.ak_name).pipe(Option.map((b) => new Uint8Array(b)))
})

export class MachineDirectory extends Effect.Service<MachineDirectory>()("@itl-attestation/core/MachineDirectory", {
  effect: Effect.gen(function* () {
    const repo = yield* MachineRepo
    /** Any string: one that is not a machine id names no machine. */
    const find = (id: string) =>
      Option.match(Schema.decodeUnknownOption(MachineId)(id), {
        onNone: () => Effect.succeed(Option.none<MachineRecord>()),
        onSome: (machineId) => Effect.orDie(repo.findById(machineId))
      })
    const get = (id: string): Effect.Effect<Option.Option<Machine>> => Effect.map(find(id), Option.map(toMachine))
    return {
      get,
      exists: (id: string) => Effect.map(get(id), Option.isSome),
      /** In the order `GET /api/v1/machines` lists them. */
      list: (filter: MachineListFilter) =>
        repo.list({ status: filter.status, limit: filter.limit, offset: filter.offset }).pipe(
          Effect.map(({ rows, total }) => ({ machines: rows.map(toMachine), total })),
          Effect.orDie
        ),
      enrolledKeys: (id: string): Effect.Effect<Option.Option<EnrolledKeys>> =>
        Effect.map(find(id), Option.map(keysOf)),
      /** How many machines are in each status, every status present (zeros included), in one query. */
      countByStatus: (): Effect.Effect<Record<MachineStatus, number>> =>
        repo.countByStatus().pipe(
          Effect.map((rows) => {
            const counts = Object.fromEntries(MachineStatus.literals.map((status) => [status, 0])) as Record<MachineStatus, number>
            for (const row of rows) counts[row.status] = row.count
            return counts
          }),
          Effect.orDie
        ),
      /** Machine sessions that would authenticate now: unexpired, of a machine that is approved or attested. */
      liveSessions: (): Effect.Effect<number> => repo.countLiveSessions().pipe(Effect.map((row) => row.count), Effect.orDie)
    } as const
  })
}) {}
