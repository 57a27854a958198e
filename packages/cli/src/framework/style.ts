/**
 * Terminal output rules: colour only on a terminal and never with NO_COLOR
 * (https://no-color.org) or TERM=dumb; text wrapped to fit 100 columns, or
 * the terminal if narrower.
 */
import type { Environment } from "./bind.js"

export const MAX_WIDTH = 100

export interface Style {
  readonly width: number
  readonly bold: (text: string) => string
  readonly dim: (text: string) => string
}

export const styleFor = (stream: { readonly isTTY?: boolean; readonly columns?: number }, env: Environment): Style => {
  const color = stream.isTTY === true && (env.NO_COLOR ?? "") === "" && env.TERM !== "dumb"
  const columns = stream.isTTY === true && typeof stream.columns === "number" && stream.columns > 40 ? stream.columns : MAX_WIDTH
  return {
    width: Math.min(MAX_WIDTH, columns),
    bold: color ? (text) => `\u001b[1m${text}\u001b[22m` : (text) => text,
    dim: color ? (text) => `\u001b[2m${text}\u001b[22m` : (text) => text
  }
}

/** Words of `text` in lines of at most `width` characters (a longer word stays whole on its own line). */
export const wrap = (text: string, width: number): ReadonlyArray<string> => {
  const lines: Array<string> = []
  for (const paragraph of text.split("\n")) {
    let line = ""
    for (const word of paragraph.split(/\s+/).filter((w) => w !== "")) {
      if (line === "") line = word
      else if (line.length + 1 + word.length <= width) line = `${line} ${word}`
      else {
        lines.push(line)
        line = word
      }
    }
    lines.push(line)
  }
  return lines
}

/** Two columns: a term, and its text wrapped beside it with a hanging indent. */
export const twoColumns = (rows: ReadonlyArray<readonly [string, string]>, width: number, indent = 2): ReadonlyArray<string> => {
  const termWidth = Math.min(28, Math.max(...rows.map(([term]) => term.length)))
  const textWidth = Math.max(30, width - indent - termWidth - 2)
  const out: Array<string> = []
  for (const [term, text] of rows) {
    const lines = wrap(text, textWidth)
    if (term.length > termWidth) {
      out.push(`${" ".repeat(indent)}${term}`)
      for (const line of lines) out.push(`${" ".repeat(indent + termWidth + 2)}${line}`)
    } else {
      out.push(`${" ".repeat(indent)}${term.padEnd(termWidth)}  ${lines[0] ?? ""}`.trimEnd())
      for (const line of lines.slice(1)) out.push(`${" ".repeat(indent + termWidth + 2)}${line}`)
    }
  }
  return out
}

/** A command line's shell words: spaces inside quotes or `$( )` do not split. */
const shellWords = (line: string): ReadonlyArray<string> => {
  const words: Array<string> = []
  let word = ""
  let quote: string | undefined
  let depth = 0
  for (const char of line) {
    if (quote !== undefined) {
      if (char === quote) quote = undefined
    } else if (char === "'" || char === '"') quote = char
    else if (char === "(") depth++
    else if (char === ")") depth = Math.max(0, depth - 1)
    else if (char === " " && depth === 0) {
      if (word !== "") words.push(word)
      word = ""
      continue
    }
    word += char
  }
  if (word !== "") words.push(word)
  return words
}

/**
 * A command line in lines of at most `width` characters that still paste
 * into a shell: broken between words with ` \`, continuations indented.
 */
export const wrapCommand = (line: string, width: number): ReadonlyArray<string> => {
  if (line.length <= width) return [line]
  const lines: Array<string> = []
  let current = ""
  for (const word of shellWords(line)) {
    const indent = lines.length === 0 ? "" : "  "
    if (current === "") current = `${indent}${word}`
    else if (current.length + 1 + word.length + 2 <= width) current = `${current} ${word}`
    else {
      lines.push(`${current} \\`)
      current = `  ${word}`
    }
  }
  lines.push(current)
  return lines
}
