import { Schema } from "effect"

/**
 * A point in time: `DateTime.Utc` in the code, an ISO 8601 UTC string with
 * milliseconds on the wire (`2026-01-31T12:00:00.000Z`, as `Date#toISOString`
 * writes it).
 */
export const IsoTimestamp = Schema.DateTimeUtc.pipe(
  Schema.annotations({
    identifier: "Timestamp",
    jsonSchema: { type: "string", format: "date-time", description: "ISO 8601 UTC timestamp, e.g. 2026-01-31T12:00:00.000Z" }
  })
)
