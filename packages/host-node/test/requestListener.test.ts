/**
 * createRequestListener: the platform as a `(req, res) => void` on a server
 * the test owns. A request is never left without an answer: before the app
 * is ready it waits, after a failed start or after dispose it gets 503.
 */
import { AppConfig, appConfig } from "@itl-attestation/core"
import { createRequestListener } from "@itl-attestation/host-node"
import { ConfigProvider, Layer } from "effect"
import { once } from "node:events"
import * as http from "node:http"
import { afterEach, describe, expect, it } from "vitest"
import { freshDatabase } from "../../../test-support/database.js"

const configFrom = (env: Record<string, string>) =>
  Layer.effect(AppConfig, appConfig).pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))

const servers: Array<http.Server> = []
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

const serve = async (listener: http.RequestListener) => {
  const server = http.createServer(listener)
  servers.push(server)
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  const { port } = server.address() as { port: number }
  return `http://127.0.0.1:${port}`
}

describe("createRequestListener", () => {
  it("holds requests that arrive during the start and answers them once ready; 503 after dispose", async () => {
    const database = await freshDatabase()
    try {
      const app = createRequestListener({ extensions: [], config: configFrom(database.env) })
      const url = await serve(app.listener)
      const early = fetch(`${url}/healthz`)
      const report = await app.ready
      expect(report.database.kind).toBe(database.kind)
      const answer = await early
      expect([answer.status, await answer.json()]).toEqual([200, { status: "ok" }])
      await app.dispose()
      const after = await fetch(`${url}/healthz`)
      expect([after.status, after.headers.get("retry-after"), await after.json()]).toEqual([
        503,
        "1",
        { error: "service_unavailable", message: "the attestation service has stopped" }
      ])
    } finally {
      await database.cleanup()
    }
  })

  it("answers 503 to waiting and later requests when the start fails, and rejects ready with the reason", async () => {
    const database = await freshDatabase()
    try {
      // A supplied database needs ITL_MASTER_KEY: the start fails before any connection.
      const { ITL_MASTER_KEY: _unused, ...env } = database.env
      const app = createRequestListener({ extensions: [], database: { url: "postgresql://127.0.0.1:1/none" }, config: configFrom(env) })
      const url = await serve(app.listener)
      const early = fetch(`${url}/healthz`)
      await expect(app.ready).rejects.toThrow(/ITL_MASTER_KEY is required/)
      for (const answer of [await early, await fetch(`${url}/api/v1/machines`)]) {
        expect([answer.status, await answer.json()]).toEqual([
          503,
          { error: "service_unavailable", message: "the attestation service failed to start" }
        ])
      }
      await app.dispose()
    } finally {
      await database.cleanup()
    }
  })
})
