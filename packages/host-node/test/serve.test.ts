/** `attestation serve` as an operator runs it: the built binary, real signals. */
import { type ChildProcess, spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { freshDatabase } from "../../../test-support/database.js"

const bin = path.resolve(__dirname, "../../cli/dist/bin.js")
const children: ChildProcess[] = []
/** `serve` loads secret_vault, which on PostgreSQL refuses to start without a shared-secret key. */
const vaultKey = { ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex") }
afterAll(() => children.forEach((c) => c.kill("SIGKILL")))

const serve = (env: Record<string, string>) => {
  const child = spawn(process.execPath, [bin, "serve"], {
    env: { PATH: process.env.PATH ?? "", ITL_PORT: "0", ITL_LOG_LEVEL: "warning", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  children.push(child)
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (d) => (stdout += d))
  child.stderr!.on("data", (d) => (stderr += d))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const waitFor = async (pattern: RegExp, ms = 60_000) => {
    const deadline = Date.now() + ms
    while (Date.now() < deadline) {
      const match = pattern.exec(stdout)
      if (match) return match
      if (child.exitCode !== null) break
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(`no ${pattern} in output; stdout=${stdout} stderr=${stderr}`)
  }
  return { child, exited, waitFor, output: () => ({ stdout, stderr }) }
}

describe("attestation serve", () => {
  it("prints the URL, database, extensions and (first start only) the admin token; stops cleanly on SIGTERM", async () => {
    const db = await freshDatabase()
    try {
      const env = { ...db.env, ...vaultKey }
      const first = serve(env)
      const [, url] = (await first.waitFor(/listening on (http:\/\/\S+)/))!
      await first.waitFor(/Extensions: /)
      const { stdout } = first.output()
      expect(stdout).toMatch(db.kind === "embedded" ? /Database: PGlite at .* \(embedded\)/ : /Database: postgresql:\/\/.* \(postgres\)/)
      expect(stdout).not.toContain("password")
      let token: string
      if (db.kind === "embedded") {
        token = (await first.waitFor(/^\s+(itl_admin_\S+)$/m))![1]!
      } else {
        expect(stdout).not.toMatch(/Admin token/)
        token = ""
      }
      expect((await fetch(`${url}/readyz`)).status).toBe(200)
      if (token) expect((await fetch(`${url}/api/v1/machines`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
      first.child.kill("SIGTERM")
      expect(await first.exited).toBe(0)
      await expect(fetch(`${url}/healthz`)).rejects.toThrow()

      const second = serve(env)
      await second.waitFor(/Extensions: /)
      await new Promise((r) => setTimeout(r, 200))
      expect(second.output().stdout).not.toMatch(/Admin token/)
      second.child.kill("SIGINT")
      expect(await second.exited).toBe(0)
    } finally {
      await db.cleanup()
    }
  })

  it("warns at startup while the insecure header-only machine authentication is on", async () => {
    const db = await freshDatabase()
    try {
      const run = serve({ ...db.env, ...vaultKey, ITL_MACHINE_AUTH: "ek-fingerprint-header" })
      await run.waitFor(/Extensions: /)
      const { stdout, stderr } = run.output()
      expect(stdout + stderr).toMatch(/level=WARN.*ITL_MACHINE_AUTH=ek-fingerprint-header/)
      run.child.kill("SIGTERM")
      expect(await run.exited).toBe(0)
    } finally {
      await db.cleanup()
    }
  })

  it("stops with one line naming the variable on bad configuration", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-serve-"))
    for (const [env, variable] of [
      [{ ITL_MASTER_KEY: "xyz" }, "ITL_MASTER_KEY"],
      [{ ITL_PORT: "http" }, "ITL_PORT"],
      [{ ITL_DATABASE_URL: "postgresql://127.0.0.1:1/x" }, "ITL_MASTER_KEY"],
      [{ ITL_TLS_CERT: "/nonexistent.pem" }, "ITL_TLS_CERT"]
    ] as const) {
      const run = serve({ ITL_DATA_DIR: dataDir, ...env })
      expect(await run.exited).toBe(1)
      const { stderr, stdout } = run.output()
      const lines = stderr.trim().split("\n")
      expect(lines, stderr).toHaveLength(1)
      expect(lines[0]).toContain(variable)
      expect(stderr).not.toMatch(/\n\s+at /)
      expect(stdout).toBe("")
    }
    fs.rmSync(dataDir, { recursive: true, force: true })
  })
})
