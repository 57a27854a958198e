/**
 * The operator examples in examples/prometheus and examples/grafana, checked
 * with the real promtool (Debian package `prometheus`): the scrape
 * configuration, the alert rules and their unit tests, and every PromQL
 * expression of the Grafana dashboard. promtool accepts any well-formed name,
 * so a misspelt series or label value would give a silently empty panel or an
 * alert that never fires: every selector is also held against the series the
 * metrics extension exports, and that table against a running server's
 * GET /metrics.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { parse as parseYaml } from "yaml"
import { metrics } from "@itl-attestation/metrics"
import { startServer } from "../../../test-support/server.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
const prometheusDir = path.join(root, "examples/prometheus")
const dashboardFile = path.join(root, "examples/grafana/attestation-dashboard.json")
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "metrics-examples-"))
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }))

const promtool = (args: ReadonlyArray<string>, cwd: string) => {
  const run = spawnSync("promtool", args, { cwd, encoding: "utf8" })
  if ((run.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
    throw new Error("promtool is not installed: install the Debian package `prometheus` (apt-get install prometheus), which provides /usr/bin/promtool")
  }
  if (run.error !== undefined) throw run.error
  return { code: run.status, output: `$ promtool ${args.join(" ")} (in ${cwd})\n${run.stdout}${run.stderr}` }
}

// The series of the metrics extension (docs/metrics.md), by family: its type
// and each label -> its values, or "any" where the values are open (event
// types, routes, versions, …). The last test holds this table against a
// running server. Every scraped series also carries the target labels job and
// instance.
type Labels = Record<string, ReadonlyArray<string> | "any">
const statuses = ["success", "failure", "error"]
const families: Record<string, { type: "counter" | "gauge" | "histogram"; labels: Labels }> = {
  attestation_machine_registrations_total: { type: "counter", labels: { status: ["registered", "known", "refused", "error"] } },
  attestation_machine_attestations_total: { type: "counter", labels: { action: ["activate", "challenge", "quote"], status: statuses } },
  attestation_secret_operations_total: {
    type: "counter",
    labels: { operation: ["create", "get", "list", "update", "delete", "grant", "revoke"], status: statuses }
  },
  attestation_webhook_deliveries_total: { type: "counter", labels: { event_type: "any", status: ["success", "failure"] } },
  attestation_audit_log_entries_total: { type: "counter", labels: { action: "any" } },
  attestation_machines_by_status: {
    type: "gauge",
    labels: { status: ["pending_approval", "approved", "attested", "rejected", "locked", "revoked"] }
  },
  attestation_active_sessions: { type: "gauge", labels: {} },
  attestation_http_request_duration_seconds: { type: "histogram", labels: { method: "any", route: "any", status_code: "any" } },
  attestation_build_info: { type: "gauge", labels: { version: "any" } },
  // prom-client's default metrics the examples use
  process_cpu_seconds_total: { type: "counter", labels: {} },
  process_resident_memory_bytes: { type: "gauge", labels: {} },
  nodejs_heap_size_used_bytes: { type: "gauge", labels: {} }
}
/** The names a query can use: a histogram's three series, and Prometheus' own `up`. */
const series: Record<string, Labels> = Object.fromEntries([
  ...Object.entries(families).flatMap(([name, { type, labels }]) =>
    type === "histogram"
      ? [[`${name}_bucket`, { ...labels, le: "any" }], [`${name}_count`, labels], [`${name}_sum`, labels]]
      : [[name, labels]]
  ),
  ["up", {}]
])
const targetLabels = ["job", "instance"]
const keywords = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless"])
const stringLiteral = /"(?:[^"\\]|\\.)*"/g

/** Every way an expression names a series or label the extension does not export. */
const unknownNames = (expr: string): Array<string> => {
  const problems: Array<string> = []
  const used = new Set<string>()
  for (const [, name, body] of expr.matchAll(/([a-zA-Z_:][\w:]*)\s*\{((?:[^}"]|"(?:[^"\\]|\\.)*")*)\}/g)) {
    const labels = series[name!]
    if (labels === undefined) continue // reported below with the bare names
    for (const [, label, op, value] of body!.matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
      if (targetLabels.includes(label!)) continue
      const values = labels[label!]
      if (values === undefined) problems.push(`${name} has no label ${label}`)
      else if (values !== "any") {
        const matches = op === "=" || op === "!=" ? values.includes(value!) : values.some((v) => new RegExp(`^(?:${value})$`).test(v))
        if (!matches) problems.push(`${name}{${label}${op}"${value}"}: ${label} is one of ${values.join(", ")}`)
      }
    }
  }
  const bare = expr.replace(stringLiteral, '""')
  const grouping = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g
  const groupedBy = [...bare.matchAll(grouping)].flatMap(([, list]) => list!.split(",").map((l) => l.trim()).filter((l) => l !== ""))
  const names = bare
    .replace(grouping, " ")
    .replace(/\{[^}]*\}|\[[^\]]*\]/g, " ")
    .matchAll(/(?<![\w:.])([a-zA-Z_:][\w:]*)(?!\s*\(|[\w:])/g)
  for (const [, name] of names) {
    if (keywords.has(name!)) continue
    if (series[name!] === undefined) problems.push(`unknown series ${name}`)
    else used.add(name!)
  }
  const known = new Set([...targetLabels, ...[...used].flatMap((n) => Object.keys(series[n]!))])
  for (const label of groupedBy) if (!known.has(label)) problems.push(`no series of this expression has the label ${label}`)
  return problems
}

const alertRules = () => {
  const file = parseYaml(fs.readFileSync(path.join(prometheusDir, "alerts.yml"), "utf8")) as {
    groups: Array<{ rules: Array<{ alert?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }> }>
  }
  return file.groups.flatMap((g) => g.rules)
}

describe("examples/prometheus", () => {
  it("prometheus.yml passes promtool check config, with alerts.yml as its rule file", () => {
    const run = promtool(["check", "config", "prometheus.yml"], prometheusDir)
    expect(run.code, run.output).toBe(0)
    expect(run.output).toContain("1 rule files found")
    const config = parseYaml(fs.readFileSync(path.join(prometheusDir, "prometheus.yml"), "utf8"))
    expect(config.scrape_configs).toEqual([
      expect.objectContaining({ job_name: "attestation", metrics_path: "/metrics", static_configs: [{ targets: ["localhost:9000"] }] })
    ])
  })

  it("alerts.yml passes promtool check rules; every alert says how bad it is and what to do", () => {
    const run = promtool(["check", "rules", "alerts.yml"], prometheusDir)
    expect(run.code, run.output).toBe(0)
    const rules = alertRules()
    expect(rules.length).toBeGreaterThan(0)
    for (const rule of rules) {
      expect(rule.alert, `a recording rule in alerts.yml: ${rule.expr}`).toBeDefined()
      expect(rule.for, `${rule.alert}: for`).toMatch(/^\d+[smh]$/)
      expect(["critical", "warning", "info"], `${rule.alert}: labels.severity`).toContain(rule.labels?.severity)
      expect(rule.annotations?.summary, `${rule.alert}: annotations.summary`).toBeTruthy()
      expect(rule.annotations?.description, `${rule.alert}: annotations.description`).toBeTruthy()
      expect(unknownNames(rule.expr), `${rule.alert}: ${rule.expr}`).toEqual([])
    }
  })

  it("alerts.test.yml passes promtool test rules, with a firing and a silent case for every alert", () => {
    const run = promtool(["test", "rules", "alerts.test.yml"], prometheusDir)
    expect(run.code, run.output).toBe(0)
    const tests = (parseYaml(fs.readFileSync(path.join(prometheusDir, "alerts.test.yml"), "utf8")) as {
      tests: Array<{ input_series: Array<{ series: string }>; alert_rule_test?: Array<{ alertname: string; exp_alerts?: Array<unknown> }> }>
    }).tests
    const cases = tests.flatMap((t) => t.alert_rule_test ?? [])
    for (const { alert } of alertRules()) {
      const mine = cases.filter((c) => c.alertname === alert)
      expect(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${alert} has no case where it fires`).toBe(true)
      expect(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${alert} has no case where it stays silent`).toBe(true)
    }
    // the input series are the extension's, named and labelled as it exports them
    for (const { series: input } of tests.flatMap((t) => t.input_series)) {
      expect(unknownNames(input), input).toEqual([])
      expect(input, "input series carry the target labels").toMatch(/\bjob="[^"]+"/)
      expect(input, "input series carry the target labels").toMatch(/\binstance="[^"]+"/)
    }
  })
})

describe("examples/grafana/attestation-dashboard.json", () => {
  type Target = { expr?: string; datasource?: { uid?: string } }
  type Panel = { title: string; type: string; datasource?: { type?: string; uid?: string }; targets?: Array<Target>; panels?: Array<Panel> }
  const dashboard = JSON.parse(fs.readFileSync(dashboardFile, "utf8")) as {
    schemaVersion: number
    panels: Array<Panel>
    templating: { list: Array<{ name: string; type: string; query: unknown; definition?: string }> }
  }
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== "row")
  const variables = new Set(dashboard.templating.list.map((v) => v.name))
  // Grafana's own range variables stand for a duration; a template variable
  // stands in a label matcher's string.
  const durations = new Set(["__rate_interval", "__interval", "__range"])
  const undefinedVariables: Array<string> = []
  const substitute = (expr: string) =>
    expr.replace(/\$\{?(\w+)(?::\w+)?\}?/g, (_, name: string) => {
      if (durations.has(name)) return "5m"
      if (!variables.has(name)) undefinedVariables.push(`$${name} in ${expr}`)
      return name
    })

  const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? "" })))
  // label_values(<selector>, <label>): the selector is PromQL too
  for (const v of dashboard.templating.list) {
    const definition = v.definition ?? ""
    const selector = /^label_values\((.*),\s*(\w+)\)$/.exec(definition)
    if (v.type === "query") queries.push({ panel: `variable ${v.name}`, expr: selector?.[1] ?? `unparsed variable query: ${definition}` })
  }

  it("is importable: schemaVersion 36 or later, every panel on the datasource variable", () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36)
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: "datasource", type: "datasource", query: "prometheus" }))
    for (const panel of panels) {
      expect(panel.datasource, panel.title).toEqual({ type: "prometheus", uid: "${datasource}" })
      expect(panel.targets?.length, `${panel.title}: targets`).toBeGreaterThan(0)
      for (const target of panel.targets ?? []) expect(target.datasource?.uid, panel.title).toBe("${datasource}")
    }
    for (const title of ["Registrations", "Attestation outcomes", "Webhook success rate", "Machines by status", "Secret reads", "HTTP p99 latency", "Audit log"]) {
      expect(panels.map((p) => p.title).some((t) => t.startsWith(title)), `a panel titled ${title}…`).toBe(true)
    }
  })

  it("every expression is PromQL that promtool parses, on the extension's series", () => {
    expect(queries.length).toBeGreaterThan(0)
    const rules = queries.map((q, i) => ({ record: `dashboard_expr_${i}`, expr: substitute(q.expr) }))
    expect(undefinedVariables).toEqual([])
    // JSON is YAML: a recording rule per expression makes promtool parse each one
    const file = path.join(scratch, "dashboard-rules.yml")
    fs.writeFileSync(file, JSON.stringify({ groups: [{ name: "dashboard", rules }] }, null, 2))
    const run = promtool(["check", "rules", file], scratch)
    const legend = queries.map((q, i) => `dashboard_expr_${i}: ${q.panel}: ${q.expr}`).join("\n")
    expect(run.code, `${run.output}\n${legend}`).toBe(0)
    expect(run.output).toContain(`SUCCESS: ${rules.length} rules found`)
    for (const q of queries) expect(unknownNames(q.expr), `${q.panel}: ${q.expr}`).toEqual([])
  })
})

describe("the series the examples are written against", () => {
  it("are those a running server with the metrics extension serves: names, types, labels and values", async () => {
    const server = await startServer({ extensions: [metrics] })
    try {
      // the first scrape puts a sample in the HTTP histogram for the second to show
      expect((await fetch(`${server.url}/metrics`)).status).toBe(200)
      const response = await fetch(`${server.url}/metrics`)
      expect(response.status).toBe(200)
      const body = await response.text()
      const types = new Map([...body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => [name!, type!]))
      for (const [name, family] of Object.entries(families)) expect(types.get(name), `# TYPE ${name}`).toBe(family.type)
      const samples = [...body.matchAll(/^([a-zA-Z_:][\w:]*)(\{.*\})? \S+$/gm)]
      for (const [line, name] of samples) if (series[name!] !== undefined) expect(unknownNames(line), line).toEqual([])
      const byStatus = samples.filter(([, name]) => name === "attestation_machines_by_status").map(([line]) => /status="(\w+)"/.exec(line)?.[1])
      expect(byStatus.sort()).toEqual([...(families.attestation_machines_by_status!.labels.status as ReadonlyArray<string>)].sort())
      expect(samples.some(([, name, labels]) => name === "attestation_http_request_duration_seconds_count" && /route="\/metrics"/.test(labels ?? ""))).toBe(true)
    } finally {
      await server.stop()
    }
  })
})
