import type { SqlError } from "@effect/sql/SqlError"

/**
 * True for a SqlError raised by PostgreSQL's unique_violation (23505) on the
 * named constraint or unique index: the database, not a prior lookup, decided
 * that the row exists, which is what holds against concurrent writers.
 */
export const uniqueViolation = (error: unknown, constraint: string): error is SqlError => {
  if (typeof error !== "object" || error === null || (error as { _tag?: unknown })._tag !== "SqlError") return false
  const cause = (error as SqlError).cause as { code?: unknown; constraint?: unknown } | undefined
  return cause?.code === "23505" && cause.constraint === constraint
}
