/** Server settings that change the TPM rules: required EK certificates, required PCR policy, header-only machine auth. */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshDatabase } from "../../../test-support/database.js"
import { api, startServer, type TestServer } from "../../../test-support/server.js"
import { startTpmMachine, type TpmMachine } from "../../../test-support/tpmMachine.js"

let rsa: TpmMachine
let ecc: TpmMachine
let bundleDir: string

beforeAll(async () => {
  ;[rsa, ecc] = await Promise.all([startTpmMachine(), startTpmMachine({ ekAlg: "ecc", akAlg: "ecc" })])
  bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-ca-"))
  fs.copyFileSync(rsa.tpm.caCertPaths!.root, path.join(bundleDir, "root.pem"))
  fs.copyFileSync(rsa.tpm.caCertPaths!.intermediate, path.join(bundleDir, "intermediate.pem"))
}, 120_000)
afterAll(async () => {
  await Promise.all([rsa?.stop(), ecc?.stop()])
  fs.rmSync(bundleDir, { recursive: true, force: true })
})

const enrollAndApprove = async (server: TestServer, machine: TpmMachine, hostname: string) => {
  const anonymous = api(server)
  const registered = await anonymous.post("/api/v1/machines/register", {
    ek_public: machine.ekPublic,
    ak_public: machine.akPublic,
    hostname,
    ...(machine.ekCertificate ? { ek_certificate: machine.ekCertificate } : {})
  })
  expect(registered.status, registered.text).toBe(201)
  const id = registered.body.machine.id
  await anonymous.post(`/api/v1/machines/${id}/activate`, { secret: await machine.activate(registered.body.challenge.credential_file) })
  await api(server, server.adminToken).post(`/api/v1/machines/${id}/approve`)
  return registered.body.machine as { id: string; ek_fingerprint: string }
}

const attest = async (server: TestServer, machine: TpmMachine, id: string) => {
  const challenge = (await api(server).post("/api/v1/attest/challenge", { machine_id: id })).body
  const evidence = await machine.quote(challenge.nonce, challenge.pcr_selection)
  return api(server).post("/api/v1/attest", { machine_id: id, ...evidence })
}

describe("ITL_REQUIRE_EK_CERT=true", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer({ env: { ITL_TPM_CA_BUNDLE: bundleDir, ITL_REQUIRE_EK_CERT: "true" } })
  })
  afterAll(() => server?.stop())

  it("accepts a machine whose EK certificate chains to the bundle", async () => {
    const machine = await enrollAndApprove(server, rsa, "certified")
    expect((await api(server, server.adminToken).get(`/api/v1/machines/${machine.id}`)).body.ek_cert_verified).toBe(true)
  })

  it("refuses machines without a certificate, or with one the bundle does not vouch for, and records nothing", async () => {
    const none = await api(server).post("/api/v1/machines/register", { ek_public: ecc.ekPublic, ak_public: ecc.akPublic, hostname: "uncertified" })
    expect(none.status).toBe(403)
    expect(none.body.error).toBe("ek_certificate_required")
    const selfMade = fs.mkdtempSync(path.join(os.tmpdir(), "itl-other-"))
    try {
      // The same EK, but certified by a CA the bundle does not contain (ecc's swtpm CA).
      const other = await startServer({ env: { ITL_TPM_CA_BUNDLE: ecc.tpm.caCertPaths!.root, ITL_REQUIRE_EK_CERT: "true" } })
      const foreign = await api(other).post("/api/v1/machines/register", {
        ek_public: rsa.ekPublic, ak_public: rsa.akPublic, hostname: "foreign", ek_certificate: rsa.ekCertificate
      })
      expect(foreign.status).toBe(403)
      expect(foreign.body.message).toContain("ITL_TPM_CA_BUNDLE")
      expect((await api(other, other.adminToken).get("/api/v1/machines")).body.total).toBe(0)
      await other.stop()
    } finally {
      fs.rmSync(selfMade, { recursive: true, force: true })
    }
    expect((await api(server, server.adminToken).get("/api/v1/machines?hostname=uncertified")).body.total).toBe(0)
  })
})

describe("ITL_PCR_POLICY=require", () => {
  it("refuses attestation until an operator sets a policy", async () => {
    const server = await startServer({ env: { ITL_PCR_POLICY: "require" } })
    try {
      const machine = await enrollAndApprove(server, ecc, "needs-policy")
      const refused = await attest(server, ecc, machine.id)
      expect(refused.status).toBe(403)
      expect(refused.body.error).toBe("no_pcr_policy")
      await api(server, server.adminToken).put("/api/v1/pcr-policy", { pcrs: { sha256: { "0": "00".repeat(32) } } })
      const accepted = await attest(server, ecc, machine.id)
      expect(accepted.status, accepted.text).toBe(200)
    } finally {
      await server.stop()
    }
  })
})

describe("ITL_MACHINE_AUTH", () => {
  it("session mode (default) ignores the header alone; ek-fingerprint-header mode accepts it for approved machines only", async () => {
    const database = await freshDatabase()
    const strict = await startServer({ database })
    try {
      const machine = await enrollAndApprove(strict, rsa, "strict")
      expect((await api(strict).get("/api/v1/machines/me", { "x-ek-fingerprint": machine.ek_fingerprint })).status).toBe(401)
      await strict.stop()

      const legacy = await startServer({ database, env: { ...strict.env, ITL_MACHINE_AUTH: "ek-fingerprint-header" } })
      const me = await api(legacy).get("/api/v1/machines/me", { "x-ek-fingerprint": machine.ek_fingerprint })
      expect(me.status).toBe(200)
      expect(me.body.id).toBe(machine.id)
      await api(legacy, legacy.adminToken).post(`/api/v1/machines/${machine.id}/lock`)
      expect((await api(legacy).get("/api/v1/machines/me", { "x-ek-fingerprint": machine.ek_fingerprint })).status).toBe(401)
      expect((await api(legacy).get("/api/v1/machines/me", { "x-ek-fingerprint": "sha256:" + "1".repeat(64) })).status).toBe(401)
      await legacy.stop()
    } finally {
      await database.cleanup()
    }
  })
})
