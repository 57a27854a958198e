/** The throughput bench's markdown table and two-instance line (bench/throughput.js). */
import { SCENARIO_TITLES } from "./throughputScenarios.js"

const TARGETS = ["service", "effect", "bare"]
const num = (value, digits) => (value === undefined || Number.isNaN(value) ? "—" : value.toFixed(digits))
const ratio = (a, b) => (a === undefined || b === undefined || b.requestsPerSecond === 0 ? "—" : (a.requestsPerSecond / b.requestsPerSecond).toFixed(2))
const latency = (f) => (f === undefined ? "—" : `${num(f.p50Ms, 1)} / ${num(f.p99Ms, 1)}`)
const cpu = (f) =>
  f === undefined ? "—" : f.databaseCpuMsPerRequest === undefined ? num(f.cpuMsPerRequest, 2) : `${num(f.cpuMsPerRequest, 2)} + ${num(f.databaseCpuMsPerRequest, 2)}`

export const printTable = (outcome, scenarios) => {
  const t = outcome.targets
  const header = [
    "scenario", "service req/s", "effect floor req/s", "bare floor req/s", "service/effect", "service/bare",
    ...TARGETS.map((target) => `${target} p50/p99 ms`),
    ...TARGETS.map((target) => `${target} CPU ms/req${outcome.database.startsWith("PostgreSQL") ? " (+ db)" : ""}`)
  ]
  const rows = scenarios.map((s) => [
    SCENARIO_TITLES[s] + (s === "attest" ? " (round trips)" : ""),
    ...TARGETS.map((target) => num(t[target]?.[s]?.requestsPerSecond, 0)),
    ratio(t.service?.[s], t.effect?.[s]),
    ratio(t.service?.[s], t.bare?.[s]),
    ...TARGETS.map((target) => latency(t[target]?.[s])),
    ...TARGETS.map((target) => cpu(t[target]?.[s]))
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`
  console.log(`\n${outcome.database}`)
  console.log(line(header))
  console.log(`|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|")}|`)
  for (const row of rows) console.log(line(row))
}

export const twoInstanceLine = (two, connections) =>
  `\ntwo service instances, shared-secret read, ${connections / 2} + ${connections / 2} connections: ` +
  `${num(two.requestsPerSecond, 0)} req/s (${two.perInstance.map((r) => num(r, 0)).join(" + ")}), p50/p99 ${latency(two)} ms, ` +
  `CPU ms/req ${cpu(two)}; one instance at ${connections}: ${num(two.oneInstanceRequestsPerSecond, 0)} req/s; ` +
  `ratio two/one ${num(two.requestsPerSecond / two.oneInstanceRequestsPerSecond, 2)}`
