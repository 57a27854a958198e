/**
 * "The database cannot be reached" as opposed to "this statement failed":
 * the first is an outage the client should retry (503), the second a defect
 * (500). One classification for every request, the readiness probe and the
 * connection retry at start-up.
 */
import { Cause } from "effect"

/** Socket-level errors of a TCP or Unix-socket connection. */
const connectionCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  // A Unix socket whose file is gone.
  "ENOENT"
])

/**
 * SQLSTATEs that mean the server is unavailable: class 08 (connection
 * exception), shutting down or starting up, too many connections.
 */
const isUnavailableSqlState = (code: string) =>
  code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03" || code === "53300"

/** node-postgres and @effect/sql-pg report a lost or impossible connection by message only. */
const connectionMessages = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /connection timed out/i,
  /not queryable/i,
  /failed to acquire connection/i,
  /connection ended/i
]

const isConnectionError = (error: unknown, depth = 0): boolean => {
  if (typeof error !== "object" || error === null || depth > 5) return false
  const { code, message, cause, errors } = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown }
  if (typeof code === "string" && (connectionCodes.has(code) || (/^[0-9A-Z]{5}$/.test(code) && isUnavailableSqlState(code)))) return true
  if (typeof message === "string" && connectionMessages.some((pattern) => pattern.test(message))) return true
  // AggregateError: a host name that resolves to several addresses, each refused.
  if (Array.isArray(errors) && errors.some((e) => isConnectionError(e, depth + 1))) return true
  return isConnectionError(cause, depth + 1)
}

const isSqlError = (error: unknown) =>
  typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "SqlError"

/** A SqlError (failure or, after `sqlDefect`, defect) that says the database cannot be reached. */
export const isDatabaseUnavailableError = (error: unknown): boolean => isSqlError(error) && isConnectionError(error)

/** True when any failure or defect in the cause is the database being unreachable. */
export const isDatabaseUnavailable = (cause: Cause.Cause<unknown>): boolean =>
  [...Cause.failures(cause), ...Cause.defects(cause)].some(isDatabaseUnavailableError)

/** Seconds a client should wait before retrying while the database is unreachable. */
export const DATABASE_RETRY_AFTER_SECONDS = 5
