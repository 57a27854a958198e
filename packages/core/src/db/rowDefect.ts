import type { NoSuchElementException } from "effect/Cause"
import { Effect } from "effect"
import type { ParseError } from "effect/ParseResult"

type RowError = ParseError | NoSuchElementException

const isRowError = (e: unknown): e is RowError =>
  typeof e === "object" && e !== null && ["ParseError", "NoSuchElementException"].includes((e as { _tag?: unknown })._tag as string)

/**
 * A row that does not decode with its schema (the table and the code
 * disagree), or a row that must exist and does not (one the transaction
 * holds locked), is a bug, not something a caller can handle: a defect, as
 * sqlDefect makes SQL errors. The repository's callers then see only SqlError.
 */
export const rowDefect = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, RowError>, R> =>
  Effect.catchIf(effect, isRowError, Effect.die) as Effect.Effect<A, Exclude<E, RowError>, R>
