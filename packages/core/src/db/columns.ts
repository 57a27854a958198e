/**
 * Schemas for column values as node-postgres hands them over, so that rows
 * are decoded at the repository boundary into domain types.
 */
import { Schema } from "effect"

/** `bytea`: node-postgres gives a Buffer. */
export const Bytes = Schema.declare((u: unknown): u is Buffer => Buffer.isBuffer(u), {
  identifier: "Bytes",
  description: "bytea column value (Buffer)"
})

/** `timestamptz`: a Date from the driver, a `DateTime.Utc` in the domain. */
export const Timestamp = Schema.DateTimeUtcFromDate

/**
 * `jsonb`: node-postgres parses it; a value that arrives as JSON text (a
 * driver configured without the jsonb parser) is parsed here instead.
 */
export const jsonb = <A, I>(schema: Schema.Schema<A, I>) => Schema.Union(schema, Schema.parseJson(schema))

/** `bigint` / `int8`: node-postgres gives a string (it may exceed 2^53; ours do not). */
export const Int8 = Schema.Union(Schema.Number, Schema.NumberFromString)
