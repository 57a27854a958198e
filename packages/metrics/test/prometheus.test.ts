/**
 * A real Prometheus server (2.42, the Debian package) scrapes the platform every second while machines with
 * software TPMs register, are approved, attest (one quote fails), read machine and shared secrets (some reads
 * are refused) and webhooks are delivered to an endpoint that answers 200 and to one that answers 500. The
 * four example queries operators use then go to Prometheus's own HTTP API character for character, and each
 * must return what those actions imply.
 *
 * Every series the queries use is made to exist (a warm-up that increments each once) and its final warm-up
 * value is in /metrics BEFORE Prometheus starts. So every series is in Prometheus's very first scrape, and all
 * have the same sample timestamps: a series first seen at value v contributes no increase for that v, and edge
 * extrapolation (below) is the same for all of them.
 */
import { secretVault } from "@itl-attestation/secret-vault"
import { webhooks } from "@itl-attestation/webhooks"
import { metrics } from "@itl-attestation/metrics"
import * as crypto from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { attestMachine, type AttestedMachine } from "../../../test-support/authorizationMatrix.js"
import { api, startServer, type TestServer } from "../../../test-support/server.js"
import { startTpmMachine, type TpmMachine } from "../../../test-support/tpmMachine.js"
import { type Receiver, startReceiver, until } from "../../webhooks/test/receiver.js"
import { type Prometheus, type Sample, startPrometheus } from "./prometheusServer.js"
import { scrape as scrapeExposition } from "./scrape.js"

/** The seed's queries, character for character. */
const SEED = {
  registrations: "increase(attestation_machine_registrations_total[1h])",
  webhookSuccess: 'rate(attestation_webhook_deliveries_total{status="success"}[5m]) / rate(attestation_webhook_deliveries_total[5m])',
  machines: "attestation_machines_by_status",
  secretReads: 'rate(attestation_secret_operations_total{operation="get"}[5m])'
}
/** The webhook ratio as it was meant: per event type, successes over all attempts. */
const WEBHOOK_RATIO_BY_EVENT_TYPE =
  'sum by (event_type) (rate(attestation_webhook_deliveries_total{status="success"}[5m])) / sum by (event_type) (rate(attestation_webhook_deliveries_total[5m]))'

/** ITL_WEBHOOK_RETRY_SCHEDULE below has two waits: a message to the failing endpoint makes three attempts. */
const ATTEMPTS = 3

/** The Accept header of Prometheus 2.42's scrapes (its default): OpenMetrics first. */
const PROMETHEUS_ACCEPT =
  "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

const MACHINE_STATUSES = ["pending_approval", "approved", "attested", "rejected", "locked", "revoked"]

let server: TestServer
let prometheus: Prometheus
let ok: Receiver
let failing: Receiver
const tpms: Array<TpmMachine> = []
/** When Prometheus had scraped the warm-up twice, before any measured action (Unix seconds). */
let beforeMeasured: number

// ---- the service's own /metrics (Prometheus text format 0.0.4) ----

const scrape = async (): Promise<Array<Sample & { name: string }>> =>
  (await scrapeExposition(server.url)).all.map((sample) => ({ name: sample.name, metric: sample.labels, value: sample.value }))

/** `name{labels}` → value: the counters and the gauge the queries read. */
type Expected = ReadonlyArray<readonly [name: string, labels: Record<string, string>, value: number]>
const matches = (metric: Record<string, string>, labels: Record<string, string>) => Object.entries(labels).every(([k, v]) => metric[k] === v)
const differences = (samples: ReadonlyArray<Sample & { name?: string }>, expected: Expected, named: boolean) =>
  expected.flatMap(([name, labels, value]) => {
    const found = samples.filter((s) => (named ? s.name === name : s.metric.__name__ === name) && matches(s.metric, labels))
    const got = found.length === 1 ? found[0]!.value : found.length === 0 ? "absent" : "ambiguous"
    return got === value ? [] : [`${name}${JSON.stringify(labels)}: ${got}, expected ${value}`]
  })

/** Waits until /metrics shows every expected value (the counters are fed asynchronously after commit). */
const serviceShows = (expected: Expected) =>
  until(
    "the service's /metrics to show the expected values",
    async () => differences(await scrape(), expected, true).length === 0,
    60_000
  ).catch(async (error) => {
    throw new Error(`${(error as Error).message}:\n${differences(await scrape(), expected, true).join("\n")}`)
  })

/** Waits until Prometheus's latest samples are the expected values (a scrape has them). */
const prometheusHas = async (expected: Expected) => {
  const names = [...new Set(expected.map(([name]) => name))]
  const latest = async () => (await Promise.all(names.map((name) => prometheus.query(name)))).flat()
  await until("Prometheus to have scraped the expected values", async () => differences(await latest(), expected, false).length === 0, 60_000).catch(
    async (error) => {
      throw new Error(`${(error as Error).message}:\n${differences(await latest(), expected, false).join("\n")}`)
    }
  )
}

const scrapesSoFar = async () => (await prometheus.query('count_over_time(up{job="attestation"}[1h])'))[0]?.value ?? 0
const waitForScrapes = async (count: number) => {
  const from = await scrapesSoFar()
  await until(`${count} more scrapes`, async () => (await scrapesSoFar()) >= from + count, 60_000)
}

const byStatus = (counts: Record<string, number>): Expected =>
  MACHINE_STATUSES.map((status) => ["attestation_machines_by_status", { status }, counts[status] ?? 0] as const)

// ---- the actions, through the public HTTP API ----

const admin = () => api(server, server.adminToken)
const expectStatus = <R extends { status: number; text: string }>(what: string, response: R, status = 201): R => {
  if (response.status !== status) throw new Error(`${what}: ${response.status} ${response.text}`)
  return response
}
const newTpm = async () => {
  const tpm = await startTpmMachine()
  tpms.push(tpm)
  return tpm
}
const attested = async (hostname: string) => {
  const machine = await attestMachine(server, hostname)
  tpms.push(machine.tpm)
  return machine
}
const registerTpm = async (tpm: TpmMachine, hostname: string) =>
  expectStatus(`register ${hostname}`, await api(server).post("/api/v1/machines/register", { ek_public: tpm.ekPublic, ak_public: tpm.akPublic, hostname }))
    .body.machine.id as string
/** A quote over a nonce the server never issued: the AK signed it, so it is a counted 403 (nonce_mismatch). */
const failingQuote = async (machine: AttestedMachine) => {
  const challenge = expectStatus("challenge", await api(server).post("/api/v1/attest/challenge", { machine_id: machine.id }), 200).body
  const quote = await machine.tpm.quote(crypto.randomBytes(32).toString("hex"), challenge.pcr_selection)
  const refused = await api(server).post("/api/v1/attest", { machine_id: machine.id, ...quote })
  expect(refused.status, refused.text).toBe(403)
  expect(refused.body.error).toBe("nonce_mismatch")
}
const readSecret = (machine: AttestedMachine, owner: string, name: string) =>
  api(server, machine.session).get(`/api/v1/secrets/machines/${owner}/secrets/${name}`)
const readShared = (machine: AttestedMachine, name: string) => api(server, machine.session).get(`/api/v1/shared-secrets/by-name/${name}/value`)

/** Waits until each receiver got exactly what was sent to it (every attempt, retries included). */
const deliveries = (expectedOk: number, expectedFailing: number) =>
  until(`${expectedOk} deliveries to the 200 endpoint and ${expectedFailing} to the 500 endpoint`, () =>
    ok.received.length === expectedOk && failing.received.length === expectedFailing
  , 60_000)

const warmUp: Expected = [
  ["attestation_machine_registrations_total", { status: "registered" }, 1],
  ["attestation_machine_registrations_total", { status: "known" }, 1],
  ["attestation_machine_registrations_total", { status: "refused" }, 1],
  ["attestation_webhook_deliveries_total", { event_type: "machine.approved", status: "success" }, 1],
  ["attestation_webhook_deliveries_total", { event_type: "machine.approved", status: "failure" }, ATTEMPTS],
  ["attestation_webhook_deliveries_total", { event_type: "machine.attested", status: "success" }, 1],
  ["attestation_webhook_deliveries_total", { event_type: "machine.registered", status: "failure" }, ATTEMPTS],
  ["attestation_secret_operations_total", { operation: "get", status: "success" }, 2],
  ["attestation_secret_operations_total", { operation: "get", status: "failure" }, 1],
  ["attestation_machine_attestations_total", { action: "quote", status: "failure" }, 1],
  ...byStatus({ attested: 1 })
]

/** What the measured actions add (registrations and reads) and the fleet they leave. */
const MEASURED = { registered: 6, known: 1, refused: 1, approvals: 3, attestations: 2, reads: 4, refusedReads: 2, failedQuotes: 1 }
const FLEET = { pending_approval: 1, approved: 1, attested: 2, rejected: 1, locked: 1, revoked: 1 }

const final: Expected = [
  ["attestation_machine_registrations_total", { status: "registered" }, 1 + MEASURED.registered],
  ["attestation_machine_registrations_total", { status: "known" }, 1 + MEASURED.known],
  ["attestation_machine_registrations_total", { status: "refused" }, 1 + MEASURED.refused],
  ["attestation_webhook_deliveries_total", { event_type: "machine.approved", status: "success" }, 1 + MEASURED.approvals],
  ["attestation_webhook_deliveries_total", { event_type: "machine.approved", status: "failure" }, ATTEMPTS * (1 + MEASURED.approvals)],
  ["attestation_webhook_deliveries_total", { event_type: "machine.attested", status: "success" }, 1 + MEASURED.attestations],
  ["attestation_webhook_deliveries_total", { event_type: "machine.registered", status: "failure" }, ATTEMPTS * (1 + MEASURED.registered)],
  ["attestation_secret_operations_total", { operation: "get", status: "success" }, 2 + MEASURED.reads],
  ["attestation_secret_operations_total", { operation: "get", status: "failure" }, 1 + MEASURED.refusedReads],
  ["attestation_machine_attestations_total", { action: "quote", status: "failure" }, 1 + MEASURED.failedQuotes],
  ...byStatus(FLEET)
]

/**
 * Samples each series must have before the queries run. increase() and rate() extrapolate the change seen
 * between a series' first and last sample in the window (sampled interval S over k samples, average spacing
 * S/(k−1)) towards both window edges, by at most 1.1 average spacings on each side. So for a measured increase N
 * the result lies in [N, N·(1 + 2.2/(k−1))], which stays below N+1 once k−1 > 2.2·N — then floor(result) is N.
 * The largest N a floor is asserted on is the registrations'.
 */
const SAMPLES_NEEDED = Math.ceil(2.2 * MEASURED.registered) + 2

beforeAll(async () => {
  server = await startServer({
    extensions: [secretVault, webhooks, metrics],
    env: {
      ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex"),
      ITL_WEBHOOK_ALLOW_PRIVATE: "true",
      ITL_WEBHOOK_RETRY_SCHEDULE: "100ms,100ms",
      ITL_WEBHOOK_TIMEOUT: "3s",
      ITL_WEBHOOK_DISABLE_AFTER: "1000"
    }
  })
  ok = await startReceiver()
  failing = await startReceiver()
  failing.reply = () => ({ status: 500, body: "down for maintenance" })
  expectStatus("webhook to the 200 endpoint", await admin().post("/api/v1/webhooks", { url: ok.url, events: ["machine.approved", "machine.attested"] }))
  expectStatus("webhook to the 500 endpoint", await admin().post("/api/v1/webhooks", { url: failing.url, events: ["machine.approved", "machine.registered"] }))

  // Warm-up: one of everything the queries read, before Prometheus starts.
  const warm = await attested("warm-1")
  expectStatus("known EK", await api(server).post("/api/v1/machines/register", { ek_public: warm.tpm.ekPublic, ak_public: warm.tpm.akPublic, hostname: "warm-1" }), 200)
  expectStatus("refused registration", await api(server).post("/api/v1/machines/register", { ek_public: "not a key", hostname: "warm-2" }), 400)
  await failingQuote(warm)
  expectStatus("machine secret", await admin().post(`/api/v1/secrets/machines/${warm.id}/secrets`, { name: "disk-key", value: "warm-disk-value" }))
  expectStatus("machine secret read", await readSecret(warm, warm.id, "disk-key"), 200)
  const shared = expectStatus("shared secret", await admin().post("/api/v1/shared-secrets", { name: "db-password", value: "warm-shared-value" })).body
  expectStatus("grant", await admin().post(`/api/v1/shared-secrets/${shared.shared_secret_id}/access`, { machine_ids: [warm.id] }), 200)
  expectStatus("not granted", await admin().post("/api/v1/shared-secrets", { name: "not-granted", value: "nobody-reads-this" }))
  expectStatus("shared secret read", await readShared(warm, "db-password"), 200)
  expectStatus("refused shared read", await readShared(warm, "not-granted"), 403)
  await deliveries(2, 2 * ATTEMPTS)
  await serviceShows(warmUp)

  // The machines of the measured part get their TPMs now, so that part is only API calls and quotes.
  const [tpm3, tpm4, tpm5, tpm6, tpm7] = await Promise.all([newTpm(), newTpm(), newTpm(), newTpm(), newTpm()])

  prometheus = await startPrometheus(new URL(server.url).host)
  // The first scrape decides: a scrape Prometheus cannot parse makes the target "down" with the parser's error.
  const [target] = await until("the first scrape", async () => {
    const targets = await prometheus.targets()
    return targets.some((t) => t.health !== "unknown") && targets
  }, 60_000)
  if (target?.health !== "up") throw new Error(`the scrape failed: ${target?.health} ${target?.lastError}`)
  await prometheusHas(warmUp)
  await waitForScrapes(2)
  beforeMeasured = Date.now() / 1000

  // Measured actions.
  const m1 = await attested("m1")
  const m2 = await attested("m2")
  await registerTpm(tpm3!, "m3")
  const m4 = await registerTpm(tpm4!, "m4")
  const m5 = await registerTpm(tpm5!, "m5")
  const m6 = await registerTpm(tpm6!, "m6")
  expectStatus("reject m4", await admin().post(`/api/v1/machines/${m4}/reject`), 200)
  expectStatus("approve m5", await admin().post(`/api/v1/machines/${m5}/approve`), 200)
  expectStatus("revoke m6", await admin().post(`/api/v1/machines/${m6}/revoke`), 200)
  expectStatus("lock m2", await admin().post(`/api/v1/machines/${m2.id}/lock`), 200)
  expectStatus("known EK", await api(server).post("/api/v1/machines/register", { ek_public: m1.tpm.ekPublic, ak_public: m1.tpm.akPublic, hostname: "m1" }), 200)
  const taken = await api(server).post("/api/v1/machines/register", { ek_public: tpm7!.ekPublic, ak_public: tpm7!.akPublic, hostname: "M1" })
  expect([taken.status, taken.body?.error], taken.text).toEqual([409, "hostname_taken"])
  await failingQuote(m1)
  expectStatus("machine secret", await admin().post(`/api/v1/secrets/machines/${m1.id}/secrets`, { name: "disk-key", value: "m1-disk-value" }))
  expectStatus("grant", await admin().post(`/api/v1/shared-secrets/${shared.shared_secret_id}/access`, { machine_ids: [m1.id] }), 200)
  for (let i = 0; i < 2; i++) {
    expectStatus("machine secret read", await readSecret(m1, m1.id, "disk-key"), 200)
    expectStatus("shared secret read", await readShared(m1, "db-password"), 200)
  }
  expectStatus("refused shared read", await readShared(m1, "not-granted"), 403)
  const foreign = await readSecret(m1, warm.id, "disk-key")
  expect([403, 404], foreign.text).toContain(foreign.status)

  // Final values: in the service, then in a scrape, then three more scrapes and enough samples in all.
  await deliveries(2 + MEASURED.approvals + MEASURED.attestations, ATTEMPTS * (2 + MEASURED.approvals + MEASURED.registered))
  await serviceShows(final)
  await prometheusHas(final)
  await waitForScrapes(3)
  await until(
    `${SAMPLES_NEEDED} samples of every series`,
    async () => (await prometheus.query(`count_over_time(attestation_machine_registrations_total{status="registered"}[1h])`))[0]!.value >= SAMPLES_NEEDED,
    60_000
  )
}, 300_000)

afterAll(async () => {
  await prometheus?.stop()
  await Promise.all([ok?.close(), failing?.close()])
  await server?.stop()
  await Promise.all(tpms.map((tpm) => tpm.stop()))
})

const valueBy = (samples: ReadonlyArray<Sample>, label: string) => Object.fromEntries(samples.map((s) => [s.metric[label]!, s.value]))

describe("a real Prometheus scraping the platform", () => {
  it("scrapes the target without error (OpenMetrics, as Prometheus asks first)", async () => {
    const targets = await prometheus.targets()
    expect(targets).toHaveLength(1)
    expect(targets[0]).toMatchObject({ health: "up", lastError: "", scrapeUrl: `${server.url}/metrics`, labels: { job: "attestation" } })
    const up = await prometheus.query('up{job="attestation"}')
    expect(up.map((s) => s.value)).toEqual([1])
    // What it was sent, and parsed without error: OpenMetrics.
    const response = await fetch(`${server.url}/metrics`, { headers: { accept: PROMETHEUS_ACCEPT } })
    expect(response.headers.get("content-type")).toMatch(/^application\/openmetrics-text; version=1\.0\.0/)
    expect(await response.text()).toMatch(/\n# EOF\n$/)
  })

  it("sees every sample of the run in the 5m windows (the run is shorter than the window)", async () => {
    for (const series of ["attestation_machine_registrations_total", "attestation_webhook_deliveries_total", "attestation_secret_operations_total"]) {
      const inFiveMinutes = await prometheus.query(`count_over_time(${series}[5m])`)
      const inTheHour = await prometheus.query(`count_over_time(${series}[1h])`)
      expect(inFiveMinutes.length).toBeGreaterThan(0)
      expect(inFiveMinutes.map((s) => s.value)).toEqual(inTheHour.map((s) => s.value))
    }
  })

  it(`${SEED.registrations}: floors to the registrations made while it watched`, async () => {
    const result = await prometheus.query(SEED.registrations)
    console.info(`${SEED.registrations} →`, JSON.stringify(result))
    const increase = valueBy(result, "status")
    expect(Object.keys(increase).sort()).toEqual(["known", "refused", "registered"])
    // Extrapolation to the window's edges makes the result slightly more than the change (see SAMPLES_NEEDED),
    // never less: for N registrations it is in [N, N+1).
    for (const [status, n] of [["registered", MEASURED.registered], ["known", MEASURED.known], ["refused", MEASURED.refused]] as const) {
      expect(increase[status], status).toBeGreaterThanOrEqual(n)
      expect(Math.floor(increase[status]!), status).toBe(n)
    }
  })

  it(`${SEED.webhookSuccess}: as written, divides each success series by itself`, async () => {
    const result = await prometheus.query(SEED.webhookSuccess)
    console.info(`${SEED.webhookSuccess} →`, JSON.stringify(result))
    // Vector matching on every label, status included: a success series only meets itself on the right, so
    // each event type with successes gives exactly 1 and a failure-only one (machine.registered) gives nothing.
    expect(result.map((s) => [s.metric.event_type, s.metric.status, s.value]).sort()).toEqual([
      ["machine.approved", "success", 1],
      ["machine.attested", "success", 1]
    ])
  })

  it(`${WEBHOOK_RATIO_BY_EVENT_TYPE}: the real share of successful attempts`, async () => {
    const result = await prometheus.query(WEBHOOK_RATIO_BY_EVENT_TYPE)
    console.info(`${WEBHOOK_RATIO_BY_EVENT_TYPE} →`, JSON.stringify(result))
    const ratio = valueBy(result, "event_type")
    // machine.registered went only to the failing endpoint: no success series, so no ratio for it either.
    expect(Object.keys(ratio).sort()).toEqual(["machine.approved", "machine.attested"])
    // All series share their samples (they all exist from the first scrape on), so rate() extrapolates both
    // sides of the ratio by the same factor and it cancels: the ratio is the measured successes over attempts.
    expect(ratio["machine.approved"]).toBeCloseTo(MEASURED.approvals / (MEASURED.approvals + ATTEMPTS * MEASURED.approvals), 9)
    expect(ratio["machine.attested"]).toBeCloseTo(1, 9)
  })

  it(`${SEED.machines}: exactly the fleet, every status present`, async () => {
    const result = await prometheus.query(SEED.machines)
    console.info(`${SEED.machines} →`, JSON.stringify(result))
    expect(valueBy(result, "status")).toEqual(FLEET)
    expect(result).toHaveLength(MACHINE_STATUSES.length)
    // Before the measured actions: only the warm-up machine, and zeros for every other status.
    const before = await prometheus.query(SEED.machines, beforeMeasured)
    expect(valueBy(before, "status")).toEqual({ pending_approval: 0, approved: 0, attested: 1, rejected: 0, locked: 0, revoked: 0 })
  })

  it(`${SEED.secretReads}: reads and refused reads both have a rate`, async () => {
    const result = await prometheus.query(SEED.secretReads)
    console.info(`${SEED.secretReads} →`, JSON.stringify(result))
    const rate = valueBy(result, "status")
    expect(Object.keys(rate).sort()).toEqual(["failure", "success"])
    expect(rate.success).toBeGreaterThan(0)
    expect(rate.failure).toBeGreaterThan(0)
    for (const [status, n] of [["success", MEASURED.reads], ["failure", MEASURED.refusedReads]] as const) {
      const increase = await prometheus.query(`increase(attestation_secret_operations_total{operation="get",status="${status}"}[5m])`)
      expect(increase, status).toHaveLength(1)
      expect(Math.floor(increase[0]!.value), status).toBe(n)
    }
  })

  it("counts the failing quote", async () => {
    const increase = await prometheus.query('increase(attestation_machine_attestations_total{action="quote",status="failure"}[5m])')
    expect(increase).toHaveLength(1)
    expect(Math.floor(increase[0]!.value)).toBe(MEASURED.failedQuotes)
  })
})
