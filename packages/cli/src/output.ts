/**
 * Rendering for stdout: `--output json` is the API's JSON as received (for
 * scripts), `--output table` a compact aligned view (for people).
 */
import { Console, DateTime } from "effect"
import type { OutputFormat } from "./globals.js"

export interface Column<A> {
  readonly header: string
  readonly value: (row: A) => string
}

export const column = <A>(header: string, value: (row: A) => string): Column<A> => ({ header, value })

/** Left-aligned columns, two spaces apart; a header row, then one line per row. */
export const table = <A>(columns: ReadonlyArray<Column<A>>, rows: ReadonlyArray<A>): string => {
  const cells = [columns.map((c) => c.header.toUpperCase()), ...rows.map((row) => columns.map((c) => c.value(row)))]
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)))
  return cells.map((line) => line.map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")).join("\n")
}

/** `field  value` lines for a single resource. */
export const details = (pairs: ReadonlyArray<readonly [string, string]>): string => {
  const width = Math.max(...pairs.map(([key]) => key.length))
  return pairs.map(([key, value]) => `${key.padEnd(width)}  ${value}`).join("\n")
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

/** Prints `value` as JSON, or as whatever `asTable` makes of it. */
export const render = <A>(format: OutputFormat, value: A, asTable: (value: A) => string) =>
  Console.log(format === "json" ? json(value) : asTable(value))

/** `1 machine`, `2 machines`. */
export const count = (n: number, singular: string, plural = `${singular}s`) => `${n} ${n === 1 ? singular : plural}`

/** A page footer: `7 machines`, or `2 of 7 machines (offset 4)` when the page hides some. */
export const pageFooter = (shown: number, total: number, offset: number, singular: string, plural?: string) =>
  shown === total ? count(total, singular, plural) : `${shown} of ${count(total, singular, plural)} (offset ${offset})`
