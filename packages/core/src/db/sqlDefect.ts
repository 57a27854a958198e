import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

const isSqlError = (e: unknown): e is SqlError =>
  typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "SqlError"

/**
 * A database failure the service cannot handle is a defect: the request gets a
 * 500 with a generic message, the cause goes to the log only.
 */
export const sqlDefect = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, SqlError>, R> =>
  Effect.catchIf(effect, isSqlError, Effect.die) as Effect.Effect<A, Exclude<E, SqlError>, R>
