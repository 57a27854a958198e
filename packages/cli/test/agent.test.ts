/**
 * The built `attestation agent` commands against a live server and a software
 * TPM: enrollment by credential activation (RSA EK with its certificate, and
 * ECC EK + ECC AK without one), attestation before and after approval, the
 * saved session, and a TPM reset between invocations.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, startServer, type TestServer } from "../../../test-support/server.js"
import { startSwtpm, type Swtpm } from "../../../test-support/swtpm.js"
import { agentOn, expectOneLineError, json, resetTpm, type Run } from "./support.js"

const modeOf = async (path: string) => (await stat(path)).mode & 0o777

describe("attestation agent", () => {
  let server: TestServer
  let rsaTpm: Swtpm
  let eccTpm: Swtpm
  let scratch: string

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "agent-test-"))
    // ECC: swtpm has no P-256 EK certificate, so this TPM needs no CA.
    ;[rsaTpm, eccTpm] = await Promise.all([startSwtpm(), startSwtpm({ ekCerts: false })])
    const bundle = join(scratch, "ca-bundle")
    await mkdir(bundle)
    await copyFile(rsaTpm.caCertPaths!.root, join(bundle, "root.pem"))
    await copyFile(rsaTpm.caCertPaths!.intermediate, join(bundle, "intermediate.pem"))
    server = await startServer({ env: { ITL_TPM_CA_BUNDLE: bundle } })
  })

  afterAll(async () => {
    await Promise.all([server?.stop(), rsaTpm?.stop(), eccTpm?.stop()])
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true })
  })

  const approve = async (id: string) => {
    const approved = await api(server, server.adminToken).post(`/api/v1/machines/${id}/approve`)
    expect(approved.status).toBe(200)
  }

  describe("RSA EK with its certificate", () => {
    let stateDir: string
    let agent: (args: ReadonlyArray<string>) => Promise<Run>
    let machineId: string

    beforeAll(() => {
      // Not created in advance: enroll makes it, private.
      stateDir = join(scratch, "rsa", "agent")
      agent = agentOn(rsaTpm, server.url, stateDir)
    })

    it("refuses a state directory that others can read", async () => {
      const open = join(scratch, "open")
      await mkdir(open, { mode: 0o755 })
      expectOneLineError(await agent(["enroll", "--state-dir", open]), 1, /accessible to group or others/, /0755/)
    })

    it("enrolls: registers, activates the credential, and waits for approval", async () => {
      const machine = json(await agent(["-o", "json", "enroll", "--hostname", "agent-rsa"]))
      expect(machine).toMatchObject({
        hostname: "agent-rsa",
        status: "pending_approval",
        ek_verified: true,
        has_ek_certificate: true,
        ek_cert_verified: true
      })
      expect(machine.ak_name).toMatch(/^000b[0-9a-f]{64}$/)
      machineId = machine.id

      expect(await modeOf(stateDir)).toBe(0o700)
      expect(await modeOf(join(stateDir, "state.json"))).toBe(0o600)
      const state = JSON.parse(await readFile(join(stateDir, "state.json"), "utf8"))
      expect(state).toEqual({
        machine_id: machineId,
        ek_fingerprint: machine.ek_fingerprint,
        hostname: "agent-rsa",
        ek_alg: "rsa",
        ak_alg: "rsa",
        ak_scheme: "rsassa"
      })
    })

    it("enrolls again with the same keys: nothing to prove, still awaiting approval", async () => {
      const run = await agent(["enroll"])
      expect(run.stderr).toBe("")
      expect(run.code).toBe(0)
      expect(run.stdout).toMatch(new RegExp(`^id\\s+${machineId}$`, "m"))
      expect(run.stdout).toMatch(/^ek_cert_verified\s+true$/m)
      expect(run.stdout).toContain("awaiting approval")
    })

    it("cannot attest before approval: one line with the server's code", async () => {
      expectOneLineError(await agent(["attest"]), 4, /not_approved/, /HTTP 403/)
      const status = await agent(["status"])
      expect(status.code).toBe(0)
      expect(status.stdout).toMatch(new RegExp(`^machine_id\\s+${machineId}$`, "m"))
      expect(status.stdout).toContain("no session; run `attestation agent attest`")
    })

    it("attests once approved, and keeps the session token private", async () => {
      await approve(machineId)
      const result = json(await agent(["-o", "json", "attest"]))
      expect(result.machine).toMatchObject({ id: machineId, status: "attested" })
      expect(result.machine.last_attested_at).not.toBeNull()
      expect(result).not.toHaveProperty("session_token")

      const sessionFile = join(stateDir, "session.json")
      expect(result.session_file).toBe(sessionFile)
      expect(await modeOf(sessionFile)).toBe(0o600)
      const session = JSON.parse(await readFile(sessionFile, "utf8"))
      expect(session).toMatchObject({ machine_id: machineId, expires_at: result.expires_at })

      const me = await api(server, session.token).get("/api/v1/machines/me")
      expect(me.status).toBe(200)
      expect(me.body).toMatchObject({ id: machineId, status: "attested" })
    })

    it("shows the server's view with the session", async () => {
      const [table, asJson] = await Promise.all([agent(["status"]), agent(["-o", "json", "status"])])
      expect(table.code).toBe(0)
      expect(table.stdout).toMatch(/^server:$/m)
      expect(table.stdout).toMatch(/^status\s+attested$/m)
      expect(table.stdout).toMatch(/^last_attested_at\s+\d{4}-\d\d-\d\dT/m)
      const status = json(asJson)
      expect(status).toMatchObject({ state: { machine_id: machineId }, session: { live: true }, server: { id: machineId, status: "attested" }, note: null })
      expect(JSON.stringify(status)).not.toContain("token")
    })

    it("traces its requests with --verbose, the session token redacted", async () => {
      const session = JSON.parse(await readFile(join(stateDir, "session.json"), "utf8"))
      const run = await agent(["status", "--verbose"])
      expect(run.code).toBe(0)
      expect(run.stderr).toMatch(/^> GET http:\/\/\S+\/api\/v1\/machines\/me$/m)
      expect(run.stderr).toContain("> authorization: [redacted]")
      expect(run.stderr).toMatch(/^< 200 OK in \d+ ms$/m)
      expect(run.stdout + run.stderr).not.toContain(session.token)
    })
  })

  describe("ECC EK and ECC AK, no certificate", () => {
    let agent: (args: ReadonlyArray<string>) => Promise<Run>
    let machineId: string

    beforeAll(() => {
      agent = agentOn(eccTpm, server.url, join(scratch, "ecc"))
    })

    it("enrolls without a certificate", async () => {
      const machine = json(await agent(["-o", "json", "enroll", "--hostname", "agent-ecc", "--ek-alg", "ecc", "--ak-alg", "ecc"]))
      expect(machine).toMatchObject({
        hostname: "agent-ecc",
        status: "pending_approval",
        ek_verified: true,
        has_ek_certificate: false,
        ek_cert_verified: false
      })
      machineId = machine.id
      expectOneLineError(await agent(["enroll", "--ak-alg", "rsa"]), 1, /already holds keys enrolled with --ak-alg ecc/)
    })

    it("attests once approved", async () => {
      await approve(machineId)
      expect(json(await agent(["-o", "json", "attest"])).machine).toMatchObject({ id: machineId, status: "attested" })
    })

    it("attests again after a TPM reset, reloading the AK from its saved private part", async () => {
      // A reboot; saved contexts (ek.ctx, ak.ctx) are invalid afterwards.
      await resetTpm(eccTpm)
      await expect(eccTpm.run("tpm2_readpublic", ["-c", join(scratch, "ecc", "ak.ctx")])).rejects.toThrow(/Cannot make sense of object context/)

      expect(json(await agent(["-o", "json", "attest"])).machine).toMatchObject({ id: machineId, status: "attested" })
      // Everything the agent loaded was flushed again.
      expect((await eccTpm.run("tpm2_getcap", ["handles-transient"])).stdout.trim()).toBe("")
    })
  })
})
