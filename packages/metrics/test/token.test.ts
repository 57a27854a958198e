/**
 * `ITL_METRICS_TOKEN`: unset, `/metrics` is open (a scraper on a private
 * network); set, only `Authorization: Bearer <token>` gets the exposition, and
 * a refusal says what is needed without showing anything of the token. A
 * token too weak to be one stops the start rather than leaving /metrics open.
 */
import { metrics } from "@itl-attestation/metrics"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startServer, type TestServer } from "../../../test-support/server.js"

const TOKEN = "metrics-scrape-token-4b1f9a2e"

let server: TestServer

beforeAll(async () => {
  server = await startServer({ extensions: [metrics], env: { ITL_METRICS_TOKEN: TOKEN } })
}, 120_000)
afterAll(async () => server?.stop())

const get = (headers: Record<string, string> = {}) => fetch(`${server.url}/metrics`, { headers })

describe("GET /metrics with ITL_METRICS_TOKEN set", () => {
  it("answers 401 with a Bearer challenge to a request without the token, and never echoes what was sent", async () => {
    const sent = [
      {},
      { authorization: "Bearer wrong-token-0123456789" },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
      { authorization: `Basic ${Buffer.from(`prometheus:${TOKEN}`).toString("base64")}` },
      { authorization: `Token ${TOKEN}` },
      { authorization: TOKEN },
      { authorization: `Bearer  ${TOKEN}` },
      { "x-metrics-token": TOKEN }
    ]
    for (const headers of sent) {
      const response = await get(headers)
      const body = await response.text()
      expect(response.status, JSON.stringify(headers)).toBe(401)
      expect(response.headers.get("www-authenticate")).toBe('Bearer realm="metrics"')
      expect(JSON.parse(body)).toMatchObject({
        error: "unauthorized",
        message: "GET /metrics needs Authorization: Bearer <ITL_METRICS_TOKEN> on this server"
      })
      expect(body).not.toContain("attestation_")
      expect(body).not.toContain(TOKEN.slice(0, 12))
    }
  })

  it("serves the exposition to the token, whatever the case of the scheme", async () => {
    for (const scheme of ["Bearer", "bearer", "BEARER"]) {
      const response = await get({ authorization: `${scheme} ${TOKEN}` })
      expect(response.status).toBe(200)
      expect(await response.text()).toContain("# TYPE attestation_machines_by_status gauge")
    }
  })

  it("does not protect anything else with the metrics token: it is no operator credential", async () => {
    const response = await fetch(`${server.url}/api/v1/machines`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(response.status).toBe(401)
  })
})

describe("a malformed ITL_METRICS_TOKEN", () => {
  it("stops the start with a line naming the variable, rather than serving /metrics open", async () => {
    for (const token of ["short", "has spaces in the middle of it", "tab\tinside-the-token-value"]) {
      const started = startServer({ extensions: [metrics], env: { ITL_METRICS_TOKEN: token } })
      await expect(started).rejects.toThrow(/ITL_METRICS_TOKEN.*at least 16 characters/)
    }
  })
})
