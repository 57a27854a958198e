/** Durations as operators write them in ITL_WEBHOOK_* variables: `100ms`, `5s`, `5m`, `2h`, `1d` (a bare number is seconds). */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Milliseconds, or undefined when `text` is not a duration. */
export const parseDuration = (text: string): number | undefined => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text)
  if (match === null) return undefined
  const ms = Number(match[1]) * UNIT_MS[match[2] ?? "s"]!
  return Number.isFinite(ms) ? Math.round(ms) : undefined
}

/** `5s,5m,30m`: the waits before the 2nd, 3rd, … attempt; undefined when any part is malformed. */
export const parseSchedule = (text: string): ReadonlyArray<number> | undefined => {
  const parts = text.split(",").map(parseDuration)
  return parts.some((p) => p === undefined) ? undefined : (parts as Array<number>)
}

export const formatMs = (ms: number) =>
  ms % 3_600_000 === 0 && ms > 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 && ms > 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
