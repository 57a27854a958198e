/**
 * Spans reach a tracer that the embedding application installs. The platform
 * turns Effect's tracer off only when nobody installed one (its no-op spans
 * cost every request a copy of the service context: docs/performance.md), so
 * an OpenTelemetry exporter given to the app still sees the platform's spans.
 */
import { HttpLayerRouter } from "@effect/platform"
import { AppConfig, appConfig, AttestationApp } from "@itl-attestation/core"
import { ConfigProvider, Effect, Layer, Tracer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshDatabase, type FreshDatabase } from "../../../test-support/database.js"
import { fakeEkPem } from "../../../test-support/server.js"

const configFrom = (env: Record<string, string>) =>
  Layer.effect(AppConfig, appConfig).pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))

/** Effect's own tracer, recording the name of every span it is asked to start. */
const started: Array<string> = []
const base = Effect.runSync(Effect.tracer)
const recordingTracer = Tracer.make({
  span: (name, parent, context, links, startTime, kind, options) => {
    started.push(name)
    return base.span(name, parent, context, links, startTime, kind, options)
  },
  context: base.context
})

let database: FreshDatabase
let app: ReturnType<typeof HttpLayerRouter.toWebHandler>

beforeAll(async () => {
  database = await freshDatabase()
  app = HttpLayerRouter.toWebHandler(
    AttestationApp.layer({ extensions: [], accessLog: false }).pipe(
      Layer.provide(configFrom(database.env)),
      Layer.provide(Layer.setTracer(recordingTracer))
    ),
    { disableLogger: true }
  )
})
afterAll(async () => {
  await app?.dispose()
  await database?.cleanup()
})

describe("tracing", () => {
  it("records the platform's spans in a tracer the embedding application installs", async () => {
    const response = await app.handler(
      new Request("http://embedded.test/api/v1/machines/register", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ek_public: fakeEkPem(), hostname: "traced-1" })
      })
    )
    expect(response.status).toBe(201)
    // The service's own span, the audit append inside it, and the SQL client's spans.
    expect(started).toContain("Enrollment.register")
    expect(started).toContain("AuditLog.append")
    expect(started).toContain("sql.execute")
  })
})
