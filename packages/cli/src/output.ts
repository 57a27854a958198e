/**
 * Rendering for stdout: `-o json` is the API's JSON as received and `-o yaml`
 * the same in YAML (for scripts), `-o id` only the ids, one per line (for
 * `id=$(…)`), and `-o table` a compact aligned view (for people).
 */
import { Console, DateTime, Effect } from "effect"
import { usageFailure } from "./errors.js"
import type { OutputFormat } from "./globals.js"

export interface Column<A> {
  readonly header: string
  readonly value: (row: A) => string
}

export const column = <A>(header: string, value: (row: A) => string): Column<A> => ({ header, value })

/**
 * Text from the server made safe for a terminal: control characters (an
 * escape sequence that would recolour, clear or retitle the screen, a CR that
 * would overwrite what came before, a newline that would break a row) and
 * the Unicode marks that reorder or hide text are shown as `\u001b`-style
 * escapes. Fields such as a reason or a token's name are free text set by
 * another operator; -o json and -o yaml keep them exact.
 */
export const printable = (text: string) =>
  text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/g, (c) => {
    const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" }
    return named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
  })

/** Left-aligned columns, two spaces apart; a header row, then one line per row. */
export const table = <A>(columns: ReadonlyArray<Column<A>>, rows: ReadonlyArray<A>): string => {
  const cells = [columns.map((c) => c.header.toUpperCase()), ...rows.map((row) => columns.map((c) => printable(c.value(row))))]
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)))
  return cells.map((line) => line.map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")).join("\n")
}

/** `field  value` lines for a single resource. */
export const details = (pairs: ReadonlyArray<readonly [string, string]>): string => {
  const width = Math.max(...pairs.map(([key]) => key.length))
  return pairs.map(([key, value]) => `${key.padEnd(width)}  ${printable(value)}`).join("\n")
}

/** `-` for an absent value, so columns never collapse. */
export const cell = (value: string | number | boolean | null | undefined): string =>
  value === null || value === undefined || value === "" ? "-" : String(value)

/** `2024-05-01T12:00:00.123Z` → `2024-05-01T12:00:00Z`: sub-second precision is noise in a table. */
export const time = (value: string | DateTime.DateTime | null): string =>
  value === null ? "-" : (typeof value === "string" ? value : DateTime.formatIso(value)).replace(/\.\d+(?=Z$|[+-]\d\d:\d\d$)/, "")

/** `sha256:0123456789abcdef…` keeps enough of a fingerprint to tell machines apart. */
export const shortFingerprint = (value: string) => {
  const match = /^(sha256:)?([0-9a-f]{17,})$/i.exec(value)
  return match === null ? value : `${match[1] ?? ""}${match[2]!.slice(0, 16)}…`
}

export const json = (value: unknown) => JSON.stringify(value, null, 2)

const ID_FIELDS = ["id", "machine_id", "shared_secret_id", "secret_id", "webhook_id", "delivery_id"]

const idOf = (item: unknown): string | undefined => {
  if (typeof item !== "object" || item === null) return undefined
  for (const field of ID_FIELDS) {
    const value = (item as Record<string, unknown>)[field]
    if (typeof value === "string" || typeof value === "number") return String(value)
  }
  // A wrapper such as `{ machine: {...}, ... }`: the id of the one object inside.
  const nested = Object.values(item).filter((v) => typeof v === "object" && v !== null && !Array.isArray(v))
  return nested.length === 1 ? idOf(nested[0]) : undefined
}

/**
 * The ids a result holds: its own `id` (or `<kind>_id`), or those of the items
 * of its one list (a page of machines, of tokens, …).
 */
export const idsOf = (value: unknown): ReadonlyArray<string> | undefined => {
  if (Array.isArray(value)) return value.map(idOf).filter((id): id is string => id !== undefined)
  const own = idOf(value)
  if (own !== undefined) return [own]
  if (typeof value !== "object" || value === null) return undefined
  const lists = Object.values(value).filter(Array.isArray)
  return lists.length === 1 ? lists[0]!.map(idOf).filter((id): id is string => id !== undefined) : undefined
}

/**
 * Prints `value` in the chosen format: JSON, YAML, its ids, or whatever
 * `asTable` makes of it. `ids` overrides how ids are found.
 */
export const render = <A>(format: OutputFormat, value: A, asTable: (value: A) => string, ids?: (value: A) => ReadonlyArray<string>) => {
  switch (format) {
    case "json":
      return Console.log(json(value))
    case "yaml":
      // Loaded only when asked for: most runs never need it.
      return Effect.flatMap(
        Effect.promise(() => import("yaml")),
        (yaml) => Console.log(yaml.stringify(JSON.parse(JSON.stringify(value)) as unknown).trimEnd())
      )
    case "id": {
      const found = ids === undefined ? idsOf(value) : ids(value)
      if (found === undefined) return Effect.fail(usageFailure("this command's result has no ids; use -o json or -o table"))
      return found.length === 0 ? Effect.void : Console.log(found.join("\n"))
    }
    case "table":
      return Console.log(asTable(value))
  }
}

/** `1 machine`, `2 machines`. */
export const count = (n: number, singular: string, plural = `${singular}s`) => `${n} ${n === 1 ? singular : plural}`

/** A page footer: `7 machines`, or `2 of 7 machines (offset 4)` when the page hides some. */
export const pageFooter = (shown: number, total: number, offset: number, singular: string, plural?: string) =>
  shown === total ? count(total, singular, plural) : `${shown} of ${count(total, singular, plural)} (offset ${offset})`
