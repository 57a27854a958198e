/**
 * What the built `attestation serve` tells an operator on the embedded default
 * across a first start, a SIGTERM and a warm start on the same data directory:
 * generated key and token files are announced as generated only on the start
 * that made them; a warm start says which files it uses; SIGTERM is logged
 * from its arrival to "stopped", with exit code 0; the OpenAPI document
 * carries core's package.json version.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { killAll, request, spawnServe } from "./spawned.js"

afterAll(killAll)

const CORE_VERSION: string = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../core/package.json"), "utf8")).version

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-startstop-"))
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }))

const file = (name: string) => path.join(dataDir, name)

/** Starts on the data directory, runs `check`, then stops it with SIGTERM; returns all it printed. */
const run = async (check: (url: string) => Promise<void> = async () => {}) => {
  const server = await spawnServe({ ITL_DATA_DIR: dataDir })
  await server.waitFor(/listening on/, 90_000)
  await check(server.url)
  server.child.kill("SIGTERM")
  expect(await server.exit()).toBe(0)
  const { stdout, stderr } = server.output()
  return stdout + stderr
}

describe("first start, SIGTERM, warm start", () => {
  let first: string
  let warm: string

  it("the first start says which files it generated", async () => {
    first = await run(async (url) => {
      const spec = JSON.parse((await request(url, { path: "/openapi.json" })).body)
      expect(spec.info.version).toBe(CORE_VERSION)
    })
    expect(first).toContain(`the master key was generated into ${file("master.key")}`)
    expect(first).toContain(`shared secrets are protected by a key generated into ${file("shared-secret.key")}`)
    expect(first).toContain(`Admin token (shown this once; also saved 0600 in ${file("admin-token")})`)
    expect(first).not.toMatch(/using the (master|shared-secret) key/)
  }, 120_000)

  it("SIGTERM is logged on arrival and on the way out, in that order, and the exit code is 0", () => {
    const received = first.indexOf("received SIGTERM, shutting down (draining 0 request(s))")
    const drained = first.indexOf("shutting down: stopped accepting connections")
    const stopped = first.search(/message=stopped\b/)
    expect(received).toBeGreaterThan(-1)
    expect(drained).toBeGreaterThan(received)
    expect(stopped).toBeGreaterThan(drained)
  })

  it("a warm start does not claim to have generated them again; it says which files it uses", async () => {
    warm = await run()
    expect(warm).not.toContain("generated into")
    expect(warm).not.toContain("Admin token (shown this once")
    expect(warm).toContain(`using the master key in ${file("master.key")} (generated on the first start); set ITL_MASTER_KEY in production`)
    expect(warm).toContain(
      `using the shared-secret key in ${file("shared-secret.key")} (generated on the first start); set ITL_SHARED_SECRET_MASTER_KEY in production`
    )
    expect(warm).toContain(`admin token: in ${file("admin-token")} (generated on the first start)`)
    expect(warm).toContain("received SIGTERM, shutting down")
    // Neither start prints a key; the admin token only on the first.
    const adminToken = fs.readFileSync(file("admin-token"), "utf8").trim()
    for (const name of ["master.key", "shared-secret.key"]) {
      const key = fs.readFileSync(file(name), "utf8").trim()
      expect(first + warm).not.toContain(key)
    }
    expect(warm).not.toContain(adminToken)
  }, 120_000)
})
