/**
 * Security headers on every kind of response, and the /docs page under its
 * Content-Security-Policy in a real headless browser (Debian's chromium,
 * driven by playwright-core): it renders the API's operations, with no CSP
 * violation, no page error and no request to another host.
 */
import { chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"

let server: TestServer
let admin: ReturnType<typeof api>

const CHROMIUM = "/usr/bin/chromium"

beforeAll(async () => {
  server = await startServer()
  admin = api(server, server.adminToken)
})
afterAll(() => server?.stop())

describe("response headers", () => {
  it("sends nosniff and no-store on every kind of response", async () => {
    const responses = [
      await admin.get("/healthz"),
      await admin.get("/api/v1/machines"),
      await admin.get("/no/such/route"), // 404 from the router
      await admin.post("/api/v1/operators/tokens", "{bad json"), // 400
      await admin.post("/api/v1/operators/tokens", { name: "x".repeat(2 * 1024 * 1024), role: "viewer" }), // 413
      await api(server).get("/api/v1/machines"), // 401
      await admin.get("/openapi.json"),
      await admin.get("/docs")
    ]
    expect(responses.map((r) => r.status)).toEqual([200, 200, 404, 400, 413, 401, 200, 200])
    for (const response of responses) {
      expect(response.headers.get("x-content-type-options")).toBe("nosniff")
      expect(response.headers.get("cache-control")).toBe("no-store")
    }
  })

  it("marks responses that carry a credential no-store", async () => {
    const created = await admin.post("/api/v1/operators/tokens", { name: "cache-check", role: "viewer" })
    expect(created.status).toBe(201)
    expect(created.headers.get("cache-control")).toBe("no-store")
    const registered = await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "cache-1" })
    expect(registered.headers.get("cache-control")).toBe("no-store")
  })

  it("gives /docs a CSP that allows only its own inline scripts, by hash", async () => {
    const docs = await admin.get("/docs")
    const csp = docs.headers.get("content-security-policy")!
    expect(csp).toContain("default-src 'none'")
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/]+=*'/)
    expect(csp).not.toMatch(/script-src[^;]*'unsafe-(inline|eval)'/)
    expect(csp).toContain("connect-src 'self'")
    expect(csp).toContain("frame-ancestors 'none'")
  })
})

describe("/docs in a real browser", () => {
  it("renders the operations with no CSP violation, no page error and nothing fetched from another host", async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] })
    try {
      const page = await browser.newPage()
      const problems: Array<string> = []
      const foreign: Array<string> = []
      page.on("console", (message) => {
        // The browser asks for /favicon.ico on its own; there is none (404), which is not the page's doing.
        if (message.type() === "error" && !message.location().url.endsWith("/favicon.ico")) problems.push(`console: ${message.text()}`)
      })
      page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`))
      page.on("request", (request) => {
        const url = new URL(request.url())
        if (!["data:", "blob:", "about:"].includes(url.protocol) && url.origin !== new URL(server.url).origin) foreign.push(request.url())
      })
      await page.addInitScript(() => {
        const seen: Array<string> = ((window as any).__violations = [])
        document.addEventListener("securitypolicyviolation", (event) => seen.push(`${event.violatedDirective} ${event.blockedURI}`))
      })
      const response = await page.goto(`${server.url}/docs`, { waitUntil: "commit" })
      expect(response?.status()).toBe(200)
      // Rendered: operations of the API appear (Scalar lists them by path).
      await page.getByText("/api/v1/extensions").first().waitFor({ timeout: 60_000 })
      await page.getByText("Powered by Scalar").first().waitFor()
      const text = (await page.locator("body").innerText()).replace(/\u200b/g, "")
      expect(text).toContain("/api/v1/extensions")
      expect(text).toContain("machines")
      expect(text).toContain("operators")
      const violations: Array<string> = await page.evaluate(() => (window as any).__violations)
      // Scalar's bundled validator (Zod) probes `new Function("")` once inside a try/catch and, refused,
      // runs without its JIT: that one refused eval is the policy working. Nothing else may be refused.
      expect(violations.filter((v) => v !== "script-src eval" && v !== "script-src-elem eval")).toEqual([])
      expect(problems).toEqual([])
      expect(foreign).toEqual([])
    } finally {
      await browser.close()
    }
  })
})
