/**
 * Reading `GET /metrics` in the tests: the raw text, its samples by series
 * (`name{label="value",…}` with labels sorted), and `promtool check metrics`
 * on it (Debian package `prometheus`).
 */
import { spawnSync } from "node:child_process"

export interface Scrape {
  readonly text: string
  readonly contentType: string
  /** Value of one sample, or undefined when the series has no sample. */
  readonly value: (name: string, labels?: Record<string, string>) => number | undefined
  /** Every sample of a metric name, with its labels. */
  readonly samples: (name: string) => ReadonlyArray<{ readonly labels: Record<string, string>; readonly value: number }>
  /** Every sample, in the order served. */
  readonly all: ReadonlyArray<{ readonly name: string; readonly labels: Record<string, string>; readonly value: number }>
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \S+)?$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

const keyOf = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]}"`)
    .join(",")}}`

export const parseExposition = (text: string, contentType = "") => {
  const samples = new Map<string, Array<{ labels: Record<string, string>; value: number }>>()
  const byKey = new Map<string, number>()
  const all: Array<{ name: string; labels: Record<string, string>; value: number }> = []
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue
    const match = SAMPLE.exec(line)
    if (match === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, key, value] of (match[2] ?? "").matchAll(LABEL)) labels[key!] = value!
    const value = Number(match[3])
    const name = match[1]!
    samples.set(name, [...(samples.get(name) ?? []), { labels, value }])
    byKey.set(keyOf(name, labels), value)
    all.push({ name, labels, value })
  }
  const scrape: Scrape = {
    text,
    contentType,
    value: (name, labels = {}) => byKey.get(keyOf(name, labels)),
    samples: (name) => samples.get(name) ?? [],
    all
  }
  return scrape
}

export const scrape = async (url: string, headers: Record<string, string> = {}): Promise<Scrape> => {
  const response = await fetch(`${url}/metrics`, { headers })
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}: ${await response.text()}`)
  return parseExposition(await response.text(), response.headers.get("content-type") ?? "")
}

/** `promtool check metrics` on the text: its exit status and what it printed (lint problems). */
export const promtoolCheckMetrics = (text: string) => {
  const result = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" })
  if (result.error) throw new Error(`promtool is needed (Debian package prometheus): ${result.error.message}`)
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}
