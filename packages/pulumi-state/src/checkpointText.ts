/**
 * The exact text of checkpoints. Delta checkpoints are byte edits of the text
 * the CLI saved before, checked by the SHA-256 of the result, so the server
 * keeps the bytes the CLI sent — sliced out of the request, never
 * re-serialized (JSON.stringify may change spacing or escapes).
 */
import * as crypto from "node:crypto"

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09

/** Index just past the JSON string starting at `at` (a `"`). */
const skipString = (text: string, at: number) => {
  let i = at + 1
  while (i < text.length) {
    const c = text.charCodeAt(i)
    if (c === 0x5c) i += 2
    else if (c === 0x22) return i + 1
    else i++
  }
  return -1
}

/** Index just past the JSON value starting at `at`. The text is already known to be valid JSON. */
const skipValue = (text: string, at: number) => {
  const first = text.charCodeAt(at)
  if (first === 0x22) return skipString(text, at)
  if (first !== 0x7b && first !== 0x5b) {
    let i = at
    while (i < text.length && !isSpace(text.charCodeAt(i)) && text[i] !== "," && text[i] !== "}" && text[i] !== "]") i++
    return i
  }
  let depth = 0
  let i = at
  while (i < text.length) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      i = skipString(text, i)
      if (i === -1) return -1
      continue
    }
    if (c === 0x7b || c === 0x5b) depth++
    else if (c === 0x7d || c === 0x5d) {
      depth--
      if (depth === 0) return i + 1
    }
    i++
  }
  return -1
}

/**
 * The raw text of the top-level member `key` of the JSON object `text` (valid
 * JSON, already parsed by the caller), or undefined when it has none.
 */
export const memberText = (text: string, key: string): string | undefined => {
  let i = 0
  const skipSpace = () => {
    while (i < text.length && isSpace(text.charCodeAt(i))) i++
  }
  skipSpace()
  if (text[i] !== "{") return undefined
  i++
  let found: string | undefined
  for (;;) {
    skipSpace()
    if (text[i] === "}") return found
    if (text[i] !== "\"") return undefined
    const keyEnd = skipString(text, i)
    if (keyEnd === -1) return undefined
    const name = JSON.parse(text.slice(i, keyEnd)) as string
    i = keyEnd
    skipSpace()
    if (text[i] !== ":") return undefined
    i++
    skipSpace()
    const end = skipValue(text, i)
    if (end === -1) return undefined
    // JSON.parse keeps the last of duplicate keys; so does this.
    if (name === key) found = text.slice(i, end)
    i = end
    skipSpace()
    if (text[i] === ",") i++
  }
}

export interface TextEdit {
  readonly start: number
  readonly end: number
  readonly newText: string
}

export type DeltaResult = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly field: string; readonly message: string }

/** Parses `deploymentDelta` (gotextdiff edits, byte offsets) and applies it to `base`; checks the SHA-256. */
export const applyDelta = (base: string, delta: unknown, expectedHash: string): DeltaResult => {
  if (!Array.isArray(delta)) return { ok: false, field: "deploymentDelta", message: "must be an array of edits" }
  const bytes = Buffer.from(base, "utf8")
  const edits: Array<TextEdit> = []
  for (const [index, edit] of delta.entries()) {
    const field = `deploymentDelta[${index}]`
    const span = (edit as { Span?: { start?: { offset?: unknown }; end?: { offset?: unknown } } } | null)?.Span
    const start = span?.start?.offset
    const end = span?.end?.offset
    const newText = (edit as { NewText?: unknown } | null)?.NewText
    if (!Number.isInteger(start) || !Number.isInteger(end)) return { ok: false, field: `${field}.Span`, message: "needs integer start.offset and end.offset" }
    if (typeof newText !== "string") return { ok: false, field: `${field}.NewText`, message: "must be a string" }
    if ((start as number) < 0 || (start as number) > (end as number) || (end as number) > bytes.length) {
      return { ok: false, field: `${field}.Span`, message: `offsets must satisfy 0 ≤ start ≤ end ≤ ${bytes.length}` }
    }
    edits.push({ start: start as number, end: end as number, newText })
  }
  edits.sort((a, b) => a.start - b.start || a.end - b.end)
  const parts: Array<Buffer> = []
  let at = 0
  for (const edit of edits) {
    if (edit.start < at) return { ok: false, field: "deploymentDelta", message: "edits overlap" }
    parts.push(bytes.subarray(at, edit.start), Buffer.from(edit.newText, "utf8"))
    at = edit.end
  }
  parts.push(bytes.subarray(at))
  const result = Buffer.concat(parts)
  const hash = crypto.createHash("sha256").update(result).digest("hex")
  if (hash !== expectedHash.toLowerCase()) return { ok: false, field: "checkpointHash", message: "does not match the SHA-256 of the state the delta produces" }
  return { ok: true, text: result.toString("utf8") }
}

/** How many resources a deployment text holds (its `deployment.resources`). */
export const resourceCountOf = (untyped: unknown) => {
  const resources = (untyped as { deployment?: { resources?: unknown } } | null)?.deployment?.resources
  return Array.isArray(resources) ? resources.length : 0
}
