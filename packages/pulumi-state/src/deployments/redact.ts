/**
 * Output of a run on its way into the record: every occurrence of every
 * secret (the deployment's environment values and its token) replaced, and
 * the total kept bounded. Text arrives in arbitrary chunks, so a secret may be
 * split across two: the redactor holds back a tail that is the start of a
 * secret until more text (or the end) shows whether the secret follows.
 */

export const REDACTED = "[redacted]"

export interface Redactor {
  /** Redacted text that is final (cannot be part of a secret continued by later text). */
  readonly push: (text: string) => string
  /** The rest, at the end of the stream. */
  readonly end: () => string
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

export const makeRedactor = (secrets: ReadonlyArray<string>): Redactor => {
  // Longest first, so a secret that contains another is replaced whole.
  const values = [...new Set(secrets.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length)
  if (values.length === 0) return { push: (text) => text, end: () => "" }
  const pattern = new RegExp(values.map(escape).join("|"), "g")
  const hold = values[0]!.length - 1
  let pending = ""
  return {
    push: (text) => {
      const all = pending + text
      // Keep back the longest tail that is the start of a secret (nothing else: output is not delayed), unless a whole secret straddles the cut (then cut after it).
      let keep = 0
      for (let k = Math.min(hold, all.length); k > 0 && keep === 0; k--) {
        const tail = all.slice(all.length - k)
        if (values.some((value) => value.startsWith(tail))) keep = k
      }
      let cut = all.length - keep
      for (const match of all.matchAll(pattern)) {
        const end = match.index + match[0].length
        if (match.index < cut && end > cut) cut = end
      }
      pending = all.slice(cut)
      return all.slice(0, cut).replace(pattern, REDACTED)
    },
    end: () => {
      const rest = pending.replace(pattern, REDACTED)
      pending = ""
      return rest
    }
  }
}

/** Appends up to `max` bytes (UTF-8) in all, then one notice, then nothing. */
export const makeBound = (max: number) => {
  let used = 0
  let truncated = false
  return {
    take: (text: string): string => {
      if (truncated || text === "") return ""
      const bytes = Buffer.byteLength(text, "utf8")
      if (used + bytes <= max) {
        used += bytes
        return text
      }
      truncated = true
      const room = Math.max(0, max - used)
      used = max
      // Cut on a character boundary.
      const head = Buffer.from(text, "utf8").subarray(0, room).toString("utf8").replace(/\uFFFD$/, "")
      return `${head}\n[output truncated: more than ${max} bytes]\n`
    },
    get truncated() {
      return truncated
    }
  }
}
