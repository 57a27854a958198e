/**
 * The metrics extension through its public interface: the platform does real
 * work over HTTP (registrations and attestations with a swtpm, secret reads,
 * webhook deliveries to real receivers), then `GET /metrics` must say exactly
 * what that work implies, pass `promtool check metrics`, and hold no id,
 * fingerprint, hostname, secret name, URL or secret value in any label.
 */
import { Measurements } from "@itl-attestation/core"
import { metrics } from "@itl-attestation/metrics"
import { secretVault } from "@itl-attestation/secret-vault"
import { webhooks } from "@itl-attestation/webhooks"
import { Effect, Exit } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type AttestedMachine, attestMachine } from "../../../test-support/authorizationMatrix.js"
import { api, startServer, type TestServer } from "../../../test-support/server.js"
import { type Receiver, startReceiver, until } from "../../webhooks/test/receiver.js"
import { promtoolCheckMetrics, type Scrape, scrape } from "./scrape.js"

const coreVersion = JSON.parse(fs.readFileSync(path.join(__dirname, "../../core/package.json"), "utf8")).version as string

let server: TestServer
let healthy: Receiver
let broken: Receiver
let machine: AttestedMachine
const SECRET_VALUE = "metrics-test-secret-value-7f3a"

beforeAll(async () => {
  healthy = await startReceiver()
  broken = await startReceiver()
  broken.reply = () => ({ status: 500, body: "down" })
  server = await startServer({
    extensions: [secretVault, webhooks, metrics],
    env: {
      ITL_WEBHOOK_ALLOW_PRIVATE: "true",
      ITL_WEBHOOK_RETRY_SCHEDULE: "100ms,100ms",
      ITL_WEBHOOK_TIMEOUT: "3s",
      ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex")
    }
  })
}, 120_000)

afterAll(async () => {
  await server?.stop()
  await machine?.tpm.stop()
  await healthy?.close()
  await broken?.close()
})

/** Scrapes until `check` holds: counters fed by events and by the audit sealer move shortly after the response. */
const scrapeUntil = (what: string, check: (s: Scrape) => boolean) =>
  until(what, async () => {
    const s = await scrape(server.url)
    return check(s) ? s : undefined
  }, 20_000)

describe("metrics after real platform work", () => {
  it("counts registrations, attestations, secret operations, webhook deliveries and audit entries as the actions imply", async () => {
    const admin = api(server, server.adminToken)
    const anonymous = api(server)
    const before = await scrape(server.url)
    expect(before.samples("attestation_machine_registrations_total")).toEqual([])
    expect(before.value("attestation_build_info", { version: coreVersion })).toBe(1)

    // Webhooks: one endpoint answers 200, one answers 500 (three attempts per message: the first and two retries).
    const good = await admin.post("/api/v1/webhooks", { url: `${healthy.url}/hook`, events: ["machine.approved", "machine.locked"] })
    const bad = await admin.post("/api/v1/webhooks", { url: `${broken.url}/hook`, events: ["machine.approved"] })
    expect([good.status, bad.status]).toEqual([201, 201])

    // A machine with a TPM: registered (new EK), activated, approved, challenged and attested.
    machine = await attestMachine(server, "metrics-host-1")
    // The same EK again: a known registration. A request without an EK: refused.
    const again = await anonymous.post("/api/v1/machines/register", { ek_public: machine.tpm.ekPublic, ak_public: machine.tpm.akPublic, hostname: "metrics-host-1" })
    expect(again.status).toBe(200)
    expect((await anonymous.post("/api/v1/machines/register", { hostname: "metrics-host-2" })).status).toBe(400)
    // A quote whose signature is garbage: refused.
    const challenge = await anonymous.post("/api/v1/attest/challenge", { machine_id: machine.id })
    const quote = await machine.tpm.quote(challenge.body.nonce, challenge.body.pcr_selection)
    const forged = await anonymous.post("/api/v1/attest", { ...quote, machine_id: machine.id, signature: Buffer.from("not a signature").toString("base64") })
    expect(forged.status).toBeGreaterThanOrEqual(400)
    expect(forged.status).toBeLessThan(500)

    // Secrets: a machine secret and a shared secret, each read once by the machine; two reads of names that do not exist.
    const session = api(server, machine.session)
    expect((await admin.post(`/api/v1/secrets/machines/${machine.id}/secrets`, { name: "disk-key", value: SECRET_VALUE })).status).toBe(201)
    const shared = await admin.post("/api/v1/shared-secrets", { name: "db-password", value: SECRET_VALUE })
    expect(shared.status).toBe(201)
    expect((await admin.post(`/api/v1/shared-secrets/${shared.body.shared_secret_id}/access`, { machine_ids: [machine.id] })).status).toBe(200)
    expect((await session.get(`/api/v1/secrets/machines/${machine.id}/secrets/disk-key`)).status).toBe(200)
    expect((await session.get("/api/v1/shared-secrets/by-name/db-password/value")).status).toBe(200)
    expect((await session.get(`/api/v1/secrets/machines/${machine.id}/secrets/no-such-key`)).status).toBe(404)
    expect((await session.get("/api/v1/shared-secrets/by-name/no-such-secret/value")).status).toBe(404)

    // Three reads of the machine by id (the histogram's route template), one unknown path.
    for (let i = 0; i < 3; i++) expect((await admin.get(`/api/v1/machines/${machine.id}`)).status).toBe(200)
    expect((await anonymous.get(`/api/v1/no-such-thing/${machine.id}`)).status).toBe(404)

    const attested = await scrapeUntil("the webhook deliveries and the attested machine", (s) =>
      s.value("attestation_webhook_deliveries_total", { event_type: "machine.approved", status: "failure" }) === 3 &&
      s.value("attestation_webhook_deliveries_total", { event_type: "machine.approved", status: "success" }) === 1
    )
    expect(attested.value("attestation_machines_by_status", { status: "attested" })).toBe(1)
    expect(attested.value("attestation_active_sessions")).toBe(1)

    // Locking ends the machine's session and is delivered to the healthy endpoint.
    expect((await admin.post(`/api/v1/machines/${machine.id}/lock`, { reason: "metrics test" })).status).toBe(200)
    const after = await scrapeUntil("the lock's delivery and every audit entry sealed", (s) =>
      s.value("attestation_webhook_deliveries_total", { event_type: "machine.locked", status: "success" }) === 1
    )

    expect(after.samples("attestation_machine_registrations_total").map((s) => [s.labels.status, s.value]).sort()).toEqual([
      ["known", 1],
      ["refused", 1],
      ["registered", 1]
    ])
    expect(after.samples("attestation_machine_attestations_total").map((s) => `${s.labels.action} ${s.labels.status} ${s.value}`).sort()).toEqual([
      "activate success 1",
      "challenge success 2",
      "quote failure 1",
      "quote success 1"
    ])
    expect(after.samples("attestation_secret_operations_total").map((s) => `${s.labels.operation} ${s.labels.status} ${s.value}`).sort()).toEqual([
      "create success 2",
      "get failure 2",
      "get success 2",
      "grant success 1"
    ])
    expect(after.samples("attestation_webhook_deliveries_total").map((s) => `${s.labels.event_type} ${s.labels.status} ${s.value}`).sort()).toEqual([
      "machine.approved failure 3",
      "machine.approved success 1",
      "machine.locked success 1"
    ])
    expect(after.value("attestation_machines_by_status", { status: "locked" })).toBe(1)
    expect(after.samples("attestation_machines_by_status").map((s) => `${s.labels.status} ${s.value}`).sort()).toEqual([
      "approved 0",
      "attested 0",
      "locked 1",
      "pending_approval 0",
      "rejected 0",
      "revoked 0"
    ])
    expect(after.value("attestation_active_sessions")).toBe(0)
    expect(after.value("attestation_http_request_duration_seconds_count", { method: "GET", route: "/api/v1/machines/:id", status_code: "200" })).toBe(3)
    expect(after.value("attestation_http_request_duration_seconds_count", { method: "GET", route: "unmatched", status_code: "404" })).toBe(1)
    expect(after.value("attestation_http_request_duration_seconds_bucket", { method: "GET", route: "/api/v1/machines/:id", status_code: "200", le: "+Inf" })).toBe(3)

    // Audit entries: once everything is sealed, the counter holds exactly the audit log's rows per action.
    await until("every audit row sealed", async () => (await admin.get("/api/v1/audit/verify")).body.pending === 0)
    const log = (await admin.get("/api/v1/audit?limit=500")).body.entries as Array<{ action: string }>
    const perAction = new Map<string, number>()
    for (const entry of log) perAction.set(entry.action, (perAction.get(entry.action) ?? 0) + 1)
    const sealed = await scrapeUntil("the audit counter to catch up with the sealer", (s) =>
      s.samples("attestation_audit_log_entries_total").reduce((n, x) => n + x.value, 0) === log.length
    )
    expect(Object.fromEntries(sealed.samples("attestation_audit_log_entries_total").map((s) => [s.labels.action, s.value]))).toEqual(
      Object.fromEntries(perAction)
    )
    expect(perAction.get("machine.registered")).toBe(1)

    // No label holds anything that identifies a machine, a secret or an endpoint, nor any secret value.
    for (const value of [machine.id, machine.session, machine.tpm.ekPublic.slice(0, 40), "metrics-host-1", "disk-key", "db-password", healthy.url, broken.url, "127.0.0.1", SECRET_VALUE, server.adminToken]) {
      expect(sealed.text).not.toContain(value)
    }
    const fingerprint = (await admin.get(`/api/v1/machines/${machine.id}`)).body.ek_fingerprint as string
    expect(sealed.text).not.toContain(fingerprint)

    const lint = promtoolCheckMetrics(sealed.text)
    expect(lint.output).toBe("")
    expect(lint.status).toBe(0)
  }, 120_000)

  it("serves OpenMetrics to a scraper that prefers it, and the text format otherwise", async () => {
    const open = await scrape(server.url, {
      accept: "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    })
    expect(open.contentType).toBe("application/openmetrics-text; version=1.0.0; charset=utf-8")
    expect(open.text.endsWith("# EOF\n")).toBe(true)
    // OpenMetrics names the counter family without `_total`; its samples keep it.
    expect(open.text).toContain("# TYPE attestation_machine_registrations counter\n")
    expect(open.text).not.toContain("# TYPE attestation_machine_registrations_total")
    expect(open.value("attestation_machine_registrations_total", { status: "registered" })).toBe(1)
    expect(open.text).toContain("# TYPE process_cpu_seconds counter\n")
    expect(open.samples("process_cpu_seconds_total_total")).toEqual([])
    // No exemplars: no sample line carries a `# {…}` suffix.
    expect(open.text.split("\n").filter((l) => !l.startsWith("#") && l.includes(" # "))).toEqual([])

    // A text-format scrape after the OpenMetrics one still names counters with `_total` (the renaming stayed in the view).
    for (const accept of [undefined, "*/*", "text/plain", "text/plain;version=0.0.4", "application/json", "application/openmetrics-text;version=0.0.1"]) {
      const text = await scrape(server.url, accept === undefined ? {} : { accept })
      expect(text.contentType, String(accept)).toBe("text/plain; version=0.0.4; charset=utf-8")
      expect(text.text).toContain("# TYPE attestation_machine_registrations_total counter\n")
      expect(text.text).not.toContain("# EOF")
    }
  })

  it("exports a counter another extension declares through Measurements, and refuses a malformed declaration", async () => {
    await server.run(
      Effect.gen(function* () {
        const measurements = yield* Measurements
        const counter = yield* measurements.counter({ name: "test_widgets", help: "Widgets made by the test", labels: ["kind"] })
        counter.inc({ kind: "round" })
        counter.inc({ kind: "round" }, 2)
      })
    )
    const s = await scrape(server.url)
    expect(s.text).toContain("# HELP attestation_test_widgets_total Widgets made by the test\n")
    expect(s.value("attestation_test_widgets_total", { kind: "round" })).toBe(3)

    const declare = (definition: { name: string; help: string; labels: Array<string> }) =>
      server.run(Effect.exit(Effect.flatMap(Measurements, (m) => m.counter(definition))))
    const bad = await declare({ name: "Widgets-Made", help: "x", labels: [] })
    expect(Exit.isFailure(bad) && String(Exit.isFailure(bad) ? bad.cause : "")).toContain("not snake_case")
    const clash = await declare({ name: "test_widgets", help: "x", labels: ["colour"] })
    expect(String(Exit.isFailure(clash) ? clash.cause : "")).toContain("already declared with labels kind")
    // A platform series cannot be redefined by an extension: the exposition stays valid.
    await declare({ name: "machine_registrations", help: "an impostor", labels: ["host"] })
    const after = await scrape(server.url)
    expect(after.text).not.toContain("an impostor")
    expect(promtoolCheckMetrics(after.text).status).toBe(0)
  })

  it("keeps two platforms in one process apart: each has its own registry", async () => {
    const second = await startServer({ extensions: [metrics] })
    try {
      const firstBefore = (await scrape(server.url)).value("attestation_machine_registrations_total", { status: "refused" })
      expect((await api(second).post("/api/v1/machines/register", { hostname: "elsewhere" })).status).toBe(400)
      const other = await scrape(second.url)
      expect(other.value("attestation_machine_registrations_total", { status: "refused" })).toBe(1)
      expect(other.samples("attestation_machines_by_status").every((s) => s.value === 0)).toBe(true)
      expect((await scrape(server.url)).value("attestation_machine_registrations_total", { status: "refused" })).toBe(firstBefore)
    } finally {
      await second.stop()
    }
  })
})
