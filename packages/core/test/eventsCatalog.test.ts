/**
 * The event catalog: declarations listed over HTTP with their JSON Schema, and
 * `Events.append` refusing (as a defect) what is not declared exactly.
 */
import { defineEvent, DomainEvent, EventCatalog, Events, defineExtension } from "@itl-attestation/core"
import { secretVault } from "@itl-attestation/secret-vault"
import { DateTime, Effect, Layer, Schema } from "effect"
import * as crypto from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"

let server: TestServer
let viewer: string
beforeAll(async () => {
  server = await startServer({ extensions: [secretVault], env: { ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex") } })
  viewer = (await api(server, server.adminToken).post("/api/v1/operators/tokens", { name: "catalog-viewer", role: "viewer" })).body.token
})
afterAll(() => server?.stop())

const countOf = async (type: string) =>
  Number((await server.sql<{ n: string }>("SELECT count(*)::text AS n FROM events WHERE event_type = $1", [type]))[0]!.n)

const append = (event: DomainEvent) => server.run(Effect.flatMap(Events, (events) => events.transaction(events.append(event))))

describe("event catalog", () => {
  it("lists every declared type with its owner and the JSON Schema of its payload, sorted by name", async () => {
    const response = await api(server, viewer).get("/api/v1/events/types")
    expect(response.status).toBe(200)
    const types: Array<{ name: string; owner: string; description: string; payload: any }> = response.body.types
    const names = types.map((t) => t.name)
    expect(names).toEqual([...names].sort())
    expect(names).toEqual(
      expect.arrayContaining([
        "machine.registered", "machine.approved", "machine.rejected", "machine.locked", "machine.unlocked",
        "machine.revoked", "machine.deleted", "machine.attested", "machine.attestation_failed",
        "secret.created", "secret.accessed", "secret.deleted", "shared_secret.created", "shared_secret.rotated",
        "shared_secret.deleted", "shared_secret.access_granted", "shared_secret.access_revoked", "shared_secret.accessed"
      ])
    )
    // The webhooks extension will declare its own test event; the core no longer does.
    expect(names).not.toContain("webhook.test")
    const byName = new Map(types.map((t) => [t.name, t]))
    expect(byName.get("machine.attested")!.owner).toBe("core")
    expect(byName.get("secret.accessed")!.owner).toBe("secret_vault")
    for (const type of types) expect(type.description.length).toBeGreaterThan(0)
    const registered = byName.get("machine.registered")!.payload
    expect(registered.$schema).toBe("http://json-schema.org/draft-07/schema#")
    expect(registered.type).toBe("object")
    expect([...registered.required].sort()).toEqual(["ek_fingerprint", "hostname", "machine_id", "status"])
    expect(registered.additionalProperties).toBe(false)
    expect(registered.properties.status.enum).toEqual(["pending_approval", "approved", "attested", "rejected", "locked", "revoked"])
    expect(byName.get("secret.accessed")!.payload.properties.scheme.enum).toEqual(["tpm2-credential-v1", "hkdf-ek-v1"])
  })

  it("asks for a credential", async () => {
    expect((await api(server).get("/api/v1/events/types")).status).toBe(401)
    expect((await api(server, "garbage").get("/api/v1/events/types")).status).toBe(401)
  })

  it("every event the core appends while a machine goes through its lifecycle is declared and matches", async () => {
    const admin = api(server, server.adminToken)
    const id = (await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "catalog-1" })).body.machine.id
    for (const action of ["approve", "lock", "unlock", "revoke"]) {
      expect((await admin.post(`/api/v1/machines/${id}/${action}`, { reason: "catalog test" })).status).toBe(200)
    }
    expect((await admin.delete(`/api/v1/machines/${id}`)).status).toBe(204)
    const types = await server.sql<{ event_type: string }>("SELECT event_type FROM events WHERE machine_id = $1 ORDER BY seq", [id])
    expect(types.map((r) => r.event_type)).toEqual([
      "machine.registered", "machine.approved", "machine.locked", "machine.unlocked", "machine.revoked", "machine.deleted"
    ])
  })

  it("appending an undeclared type is a defect and writes nothing", async () => {
    const event = new DomainEvent({ event_type: "nobody.declared_this", timestamp: DateTime.unsafeNow(), data: {} })
    await expect(append(event)).rejects.toThrow(/event type nobody\.declared_this is not declared in the event catalog/)
    expect(await countOf("nobody.declared_this")).toBe(0)
  })

  it("a payload that does not match its declaration is a defect naming the fields, never their values", async () => {
    const probe = defineEvent({
      type: "catalog_test.probe",
      description: "test",
      payload: Schema.Struct({ count: Schema.Int, label: Schema.optional(Schema.String) })
    })
    await server.run(Effect.flatMap(EventCatalog, (catalog) => catalog.register("catalog_test", [probe])))
    await append(probe.make({ count: 1 }))
    expect(await countOf("catalog_test.probe")).toBe(1)

    const leaked = "s3cr3t-value-that-must-not-be-logged"
    const extra = new DomainEvent({ event_type: "catalog_test.probe", timestamp: DateTime.unsafeNow(), data: { count: 2, password: leaked } })
    const failure = await append(extra).then(() => undefined, (error: unknown) => String(error))
    expect(failure).toMatch(/catalog_test\.probe \(declared by catalog_test\) does not match its declared payload: data\.password is not declared/)
    expect(failure).not.toContain(leaked)

    const wrongType = new DomainEvent({ event_type: "catalog_test.probe", timestamp: DateTime.unsafeNow(), data: { count: leaked } })
    const second = await append(wrongType).then(() => undefined, (error: unknown) => String(error))
    expect(second).toMatch(/data\.count does not match the declared schema/)
    expect(second).not.toContain(leaked)

    const missing = new DomainEvent({ event_type: "catalog_test.probe", timestamp: DateTime.unsafeNow(), data: { label: "x" } })
    await expect(append(missing)).rejects.toThrow(/data\.count is missing/)
    expect(await countOf("catalog_test.probe")).toBe(1)
  })

  it("register refuses duplicates and malformed declarations, all or nothing", async () => {
    const register = (owner: string, definitions: ReadonlyArray<any>) =>
      server.run(Effect.flatMap(EventCatalog, (catalog) => Effect.flip(catalog.register(owner, definitions))))
    const fine = defineEvent({ type: "dup_test.fine", description: "ok", payload: Schema.Struct({}) })
    const taken = defineEvent({ type: "machine.registered", description: "again", payload: Schema.Struct({}) })
    expect((await register("dup_test", [fine, taken])).message).toBe("event type machine.registered is already declared by core")
    // Nothing of the failed owner was registered.
    const types = (await api(server, viewer).get("/api/v1/events/types")).body.types.map((t: any) => t.name)
    expect(types).not.toContain("dup_test.fine")
    expect((await register("dup_test", [fine, fine])).message).toBe("event type dup_test.fine is already declared by dup_test")
    for (const type of ["NoDot", "Upper.case", "too.many.dots", ".x", "x.", "space .x"]) {
      const bad = defineEvent({ type, description: "bad", payload: Schema.Struct({}) })
      expect((await register("dup_test", [bad])).message).toMatch(/is malformed: it must be namespace\.name in snake_case/)
    }
    const undescribed = defineEvent({ type: "dup_test.quiet", description: " ", payload: Schema.Struct({}) })
    expect((await register("dup_test", [undescribed])).message).toBe("event type dup_test.quiet has no description")
    const opaque = defineEvent({ type: "dup_test.opaque", description: "x", payload: Schema.Struct({ at: Schema.DateFromSelf }) })
    expect((await register("dup_test", [opaque])).message).toMatch(/dup_test\.opaque: its payload Schema has no JSON Schema representation/)
  })
})

describe("extensions declaring events", () => {
  it("an extension declaring a type another owner has is left out with a clear reason; the others load", async () => {
    const thief = defineExtension({
      name: "event_thief",
      version: "1.0.0",
      description: "declares a core event",
      core: "^2.0.0",
      events: [defineEvent({ type: "machine.approved", description: "mine", payload: Schema.Struct({}) })]
    })
    const honest = defineExtension({
      name: "event_honest",
      version: "1.0.0",
      description: "declares its own",
      core: "^2.0.0",
      events: [defineEvent({ type: "event_honest.ping", description: "a ping", payload: Schema.Struct({ n: Schema.Number }) })]
    })
    const brokenLater = defineExtension({
      name: "event_broken_later",
      version: "1.0.0",
      description: "declares, then its layer fails",
      core: "^2.0.0",
      events: [defineEvent({ type: "event_broken_later.ping", description: "never", payload: Schema.Struct({}) })],
      layer: Layer.effectDiscard(Effect.fail(new Error("layer exploded")))
    })
    const other = await startServer({ extensions: [thief, honest, brokenLater] })
    try {
      expect(other.info.report.failedExtensions).toEqual([
        { name: "event_thief", reason: "event type machine.approved is already declared by core" },
        { name: "event_broken_later", reason: "layer exploded" }
      ])
      expect(other.info.report.extensions.map((e) => e.name)).toEqual(["event_honest"])
      const types = (await api(other, other.adminToken).get("/api/v1/events/types")).body.types
      const ping = types.find((t: any) => t.name === "event_honest.ping")
      expect(ping).toMatchObject({ owner: "event_honest", description: "a ping" })
      expect(types.find((t: any) => t.name === "machine.approved").owner).toBe("core")
      // A type of an extension that did not load is not offered to subscribers.
      expect(types.map((t: any) => t.name)).not.toContain("event_broken_later.ping")
    } finally {
      await other.stop()
    }
  })
})
