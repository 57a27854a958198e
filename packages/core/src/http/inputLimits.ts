/**
 * Rules every request's input obeys before any endpoint sees it: JSON no
 * deeper than MAX_JSON_DEPTH, and text (JSON strings and object keys at any
 * depth, query and path parameters) without NUL characters or unpaired
 * surrogates. PostgreSQL text/jsonb cannot hold U+0000, and an unpaired
 * surrogate has no UTF-8 encoding (it would be stored as U+FFFD, changing the
 * value), so such input is refused rather than altered.
 */

/** Deepest nesting of arrays/objects accepted in a JSON body (documented in docs/api.md). */
export const MAX_JSON_DEPTH = 32

/** A refused input: `field` is the dotted path (`hardware.cpu`, `machine_ids.0`), empty for the body itself. */
export interface InputProblem {
  readonly field: string
  readonly message: string
}

/**
 * True when `text` nests arrays/objects deeper than `max`. A scan over the raw
 * text (brackets inside strings do not count), so it runs before the text is
 * parsed and never recurses.
 */
export const exceedsJsonDepth = (text: string, max: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true
    } else if (c === 0x7d || c === 0x5d) {
      depth--
    }
  }
  return false
}

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Why `text` cannot be accepted as text, if it cannot. */
export const textProblem = (text: string): string | undefined => {
  if (text.includes("\u0000")) return "must not contain NUL characters"
  if (UNPAIRED_SURROGATE.test(text)) return "must not contain unpaired surrogates (not valid Unicode)"
  return undefined
}

/**
 * The first string or object key in a parsed JSON value that `textProblem`
 * refuses, with its path. Iterative, so any depth is safe.
 */
export const findTextProblem = (value: unknown): InputProblem | undefined => {
  const stack: Array<{ readonly value: unknown; readonly path: ReadonlyArray<string> }> = [{ value, path: [] }]
  while (stack.length > 0) {
    const { value, path } = stack.pop()!
    if (typeof value === "string") {
      const problem = textProblem(value)
      if (problem !== undefined) return { field: path.join("."), message: problem }
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: [...path, String(i)] })
    } else if (typeof value === "object" && value !== null) {
      const keys = Object.keys(value)
      for (const key of keys) {
        const problem = textProblem(key)
        if (problem !== undefined) return { field: path.join("."), message: `property names ${problem}` }
      }
      for (let i = keys.length - 1; i >= 0; i--) {
        stack.push({ value: (value as Record<string, unknown>)[keys[i]!], path: [...path, keys[i]!] })
      }
    }
  }
  return undefined
}

/** Decodes one `application/x-www-form-urlencoded` component, or undefined if it is not valid UTF-8. */
const decodeComponent = (raw: string): string | undefined => {
  try {
    return decodeURIComponent(raw.replace(/\+/g, " "))
  } catch {
    return undefined
  }
}

/** The first query parameter (name or value) that is not acceptable text. */
export const findQueryProblem = (query: string): InputProblem | undefined => {
  for (const pair of query.split("&")) {
    if (pair === "") continue
    const eq = pair.indexOf("=")
    const rawName = eq === -1 ? pair : pair.slice(0, eq)
    const name = decodeComponent(rawName)
    if (name === undefined) return { field: "query", message: "parameter names must be valid UTF-8" }
    const nameProblem = textProblem(name)
    if (nameProblem !== undefined) return { field: "query", message: `parameter names ${nameProblem}` }
    const value = decodeComponent(eq === -1 ? "" : pair.slice(eq + 1))
    if (value === undefined) return { field: name, message: "must be valid UTF-8" }
    const valueProblem = textProblem(value)
    if (valueProblem !== undefined) return { field: name, message: valueProblem }
  }
  return undefined
}

/** Printable ASCII without `%`: nothing to decode, and no NUL or surrogate can be in it (most paths). */
const PLAIN_PATH = /^[\x21-\x24\x26-\x7e]*$/

/** The first path segment that is not acceptable text once percent-decoded. */
export const findPathProblem = (pathname: string): InputProblem | undefined => {
  if (PLAIN_PATH.test(pathname)) return undefined
  for (const segment of pathname.split("/")) {
    let decoded: string
    try {
      decoded = decodeURIComponent(segment)
    } catch {
      return { field: "path", message: "must be valid UTF-8" }
    }
    const problem = textProblem(decoded)
    if (problem !== undefined) return { field: "path", message: problem }
  }
  return undefined
}
