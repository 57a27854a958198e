/**
 * ITL_LOG_LEVEL and ITL_LOG_FORMAT as documented (docs/configuration.md), on
 * the built `attestation serve`: the documented names take effect, unknown
 * values stop the start with one line naming the variable.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { freshDatabase } from "../../../test-support/database.js"
import { hexKey, killAll, request, spawnServe } from "./spawned.js"

afterAll(killAll)

const adminToken = `logging-admin-${hexKey().slice(0, 16)}`

describe("log settings", () => {
  it("refuses unknown values with one line naming the variable", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-logging-"))
    for (const [variable, value] of [
      ["ITL_LOG_LEVEL", "verbose"],
      ["ITL_LOG_LEVEL", "warnings"],
      ["ITL_LOG_FORMAT", "xml"]
    ] as const) {
      const server = await spawnServe({ ITL_DATA_DIR: dataDir, [variable]: value })
      expect(await server.exit()).toBe(1)
      const { stdout, stderr } = server.output()
      expect(stdout).toBe("")
      const lines = stderr.trim().split("\n")
      expect(lines, stderr).toHaveLength(1)
      expect(lines[0]).toMatch(new RegExp(`^attestation: cannot start: .*${variable}.*must be one of`))
    }
    // Refused before anything was written.
    expect(fs.readdirSync(dataDir)).toEqual([])
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  it("applies the documented level names, case-insensitively, and the formats", async () => {
    const db = await freshDatabase()
    try {
      // The insecure machine-auth mode logs a warning at every start: something to see at `warning`, not at `none`.
      const env = { ...db.env, ITL_ADMIN_TOKEN: adminToken, ITL_SHARED_SECRET_MASTER_KEY: hexKey(), ITL_MACHINE_AUTH: "ek-fingerprint-header" }
      const run = async (settings: Record<string, string>) => {
        const server = await spawnServe({ ...env, ...settings })
        await server.waitFor(/listening on/, 90_000)
        expect((await request(server.url, { path: "/healthz" })).status).toBe(200)
        // A client's request id is echoed and carried by the log lines of its request.
        const traced = await request(server.url, { path: "/api/v1/machines", headers: { "x-request-id": "trace-abc-123" } })
        expect(traced.headers["x-request-id"]).toBe("trace-abc-123")
        await new Promise((r) => setTimeout(r, 200))
        server.child.kill("SIGTERM")
        expect(await server.exit()).toBe(0)
        const { stdout, stderr } = server.output()
        return stdout + stderr
      }

      const warning = await run({ ITL_LOG_LEVEL: "warning" })
      expect(warning).toMatch(/level=WARN .*ITL_MACHINE_AUTH=ek-fingerprint-header/)
      expect(warning).not.toMatch(/level=INFO/)

      const none = await run({ ITL_LOG_LEVEL: "None" })
      expect(none).toMatch(/listening on/)
      expect(none).not.toMatch(/level=|message=/)

      const json = await run({ ITL_LOG_LEVEL: "DEBUG", ITL_LOG_FORMAT: "JSON" })
      const entries = json
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line))
      expect(entries.some((e) => e.logLevel === "INFO" && e.message === "Sent HTTP response")).toBe(true)
      const traced = entries.find((e) => e.message === "Sent HTTP response" && e.annotations?.request_id === "trace-abc-123")
      expect(traced?.annotations).toMatchObject({ "http.method": "GET", "http.route": "/api/v1/machines", "http.status": 401 })
      expect(entries.some((e) => e.logLevel === "WARN")).toBe(true)
    } finally {
      await db.cleanup()
    }
  }, 240_000)
})
