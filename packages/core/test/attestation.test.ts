/**
 * Enrollment and attestation end to end: a real software TPM (swtpm) driven
 * by tpm2-tools on the machine side, the real server on the other, and the
 * attacks the protocol must stop.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { startTpmMachine, type TpmMachine } from "../../../test-support/tpmMachine.js"

let server: TestServer
let admin: ReturnType<typeof api>
let anonymous: ReturnType<typeof api>
let tpmA: TpmMachine
let tpmB: TpmMachine
let bundleDir: string

beforeAll(async () => {
  ;[tpmA, tpmB] = await Promise.all([startTpmMachine(), startTpmMachine({ ekAlg: "ecc", akAlg: "ecc" })])
  bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-ca-"))
  fs.copyFileSync(tpmA.tpm.caCertPaths!.root, path.join(bundleDir, "root.pem"))
  fs.copyFileSync(tpmA.tpm.caCertPaths!.intermediate, path.join(bundleDir, "intermediate.pem"))
  // tpmB's CA too, so both swtpms' certificates would verify.
  fs.copyFileSync(tpmB.tpm.caCertPaths!.root, path.join(bundleDir, "root-b.pem"))
  fs.copyFileSync(tpmB.tpm.caCertPaths!.intermediate, path.join(bundleDir, "intermediate-b.pem"))
  server = await startServer({ env: { ITL_TPM_CA_BUNDLE: bundleDir, ITL_MAX_FAILED_ATTESTATIONS: "3" } })
  admin = api(server, server.adminToken)
  anonymous = api(server)
}, 120_000)

afterAll(async () => {
  await server?.stop()
  await Promise.all([tpmA?.stop(), tpmB?.stop()])
  if (bundleDir) fs.rmSync(bundleDir, { recursive: true, force: true })
})

let hostCount = 0
const register = (machine: TpmMachine, extra: Record<string, unknown> = {}) =>
  anonymous.post("/api/v1/machines/register", {
    ek_public: machine.ekPublic,
    ak_public: machine.akPublic,
    hostname: `tpm-${++hostCount}`,
    ...(machine.ekCertificate ? { ek_certificate: machine.ekCertificate } : {}),
    ...extra
  })

/** Register + activate: the machine proves its EK. */
const enroll = async (machine: TpmMachine, extra: Record<string, unknown> = {}) => {
  const registered = await register(machine, extra)
  expect(registered.status, registered.text).toBe(201)
  const id = registered.body.machine.id as string
  const secret = await machine.activate(registered.body.challenge.credential_file)
  const activated = await anonymous.post(`/api/v1/machines/${id}/activate`, { secret })
  expect(activated.status, activated.text).toBe(200)
  return { id, registered, activated }
}

const attest = async (machine: TpmMachine, id: string) => {
  const challenge = await anonymous.post("/api/v1/attest/challenge", { machine_id: id })
  expect(challenge.status, challenge.text).toBe(200)
  const evidence = await machine.quote(challenge.body.nonce, challenge.body.pcr_selection)
  return { challenge: challenge.body, evidence, response: await anonymous.post("/api/v1/attest", { machine_id: id, ...evidence }) }
}

/** One enrolled, approved, attested machine per TPM, shared by the tests that need one. */
let enrolledA: string

describe("enrollment", () => {
  it("proves EK possession by credential activation and verifies the EK certificate chain", async () => {
    const { id, registered, activated } = await enroll(tpmA)
    enrolledA = id
    expect(registered.body.created).toBe(true)
    // The certificate's verdict is known at registration, before activation records it.
    expect(registered.body.machine).toMatchObject({ ek_verified: false, ek_cert_verified: true })
    expect(registered.body.challenge).toMatchObject({ credential_blob: expect.any(String), encrypted_secret: expect.any(String) })
    expect(activated.body).toMatchObject({ id, ek_verified: true, ek_cert_verified: true, status: "pending_approval" })
    expect(activated.body.ak_name).toMatch(/^000b[0-9a-f]{64}$/)
    const audit = await admin.get(`/api/v1/audit?target_id=${id}&action=machine.ek_verified`)
    expect(audit.body.total).toBe(1)
  })

  it("works for an ECC P-256 EK with an ECC AK (no certificate on swtpm: not cert-verified)", async () => {
    const { activated } = await enroll(tpmB)
    expect(activated.body).toMatchObject({ ek_verified: true, ek_cert_verified: false })
  })

  it("re-registering a known EK keeps its identity and status, and asks for no new proof", async () => {
    const again = await register(tpmA, { hostname: "tpm-1" })
    expect(again.status).toBe(200)
    expect(again.body).toMatchObject({ created: false, challenge: null, machine: { id: enrolledA, ek_verified: true } })
  })

  it("refuses an AK swapped after activation", async () => {
    await tpmA.withNewAk(async () => {
      const swapped = await register(tpmA, { hostname: "tpm-1" })
      expect(swapped.status).toBe(409)
      expect(swapped.body.error).toBe("ak_mismatch")
    })
    // Quotes from a new, never-activated AK are not accepted either (checked under attestation).
  })

  it("an activation answered by a TPM that does not hold the EK fails, and the challenge is spent", async () => {
    const victim = await startTpmMachine()
    try {
      // The attacker (tpmB) claims the victim's EK with its own AK; only the victim's TPM could
      // recover the secret, so tpmB's TPM refuses the credential and a guessed secret fails.
      const claimed = await anonymous.post("/api/v1/machines/register", { ek_public: victim.ekPublic, ak_public: tpmB.akPublic, hostname: "claimed" })
      expect(claimed.status).toBe(201)
      await expect(tpmB.activate(claimed.body.challenge.credential_file)).rejects.toThrow()
      const id = claimed.body.machine.id
      const guess = await anonymous.post(`/api/v1/machines/${id}/activate`, { secret: crypto.randomBytes(32).toString("base64") })
      expect(guess.status).toBe(403)
      expect(guess.body.error).toBe("activation_failed")
      const retry = await anonymous.post(`/api/v1/machines/${id}/activate`, { secret: crypto.randomBytes(32).toString("base64") })
      expect(retry.status).toBe(404)
      expect(retry.body.error).toBe("no_challenge")
      expect((await admin.get(`/api/v1/machines/${id}`)).body.ek_verified).toBe(false)
    } finally {
      await victim.stop()
    }
  })

  it("a challenge is single use and expires; registering again meanwhile is sent the same challenge", async () => {
    const fresh = await startTpmMachine()
    try {
      const first = await register(fresh, { hostname: "single-use" })
      const id = first.body.machine.id
      const again = await register(fresh, { hostname: "single-use" })
      expect(again.status).toBe(200)
      expect(again.body.challenge).toEqual(first.body.challenge)
      const secret = await fresh.activate(first.body.challenge.credential_file)
      await server.sql("UPDATE enrollment_challenges SET expires_at = now() - interval '1 second' WHERE machine_id = $1", [id])
      const expired = await anonymous.post(`/api/v1/machines/${id}/activate`, { secret })
      expect(expired.status).toBe(403)
      expect(expired.body.error).toBe("challenge_expired")
      // A new challenge (after the interval) activates.
      await server.sql("UPDATE enrollment_challenges SET created_at = now() - interval '1 minute' WHERE machine_id = $1", [id])
      const second = await register(fresh, { hostname: "single-use" })
      expect(second.status).toBe(200)
      const ok = await anonymous.post(`/api/v1/machines/${id}/activate`, { secret: await fresh.activate(second.body.challenge.credential_file) })
      expect(ok.body.ek_verified).toBe(true)
    } finally {
      await fresh.stop()
    }
  })

  it("never lets another EK take over a hostname", async () => {
    const taken = (await admin.get(`/api/v1/machines/${enrolledA}`)).body.hostname
    const takeover = await anonymous.post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: taken })
    expect(takeover.status).toBe(409)
    expect(takeover.body.error).toBe("hostname_taken")
  })

  it("rejects AKs that are not restricted signing keys, and malformed structures, with a 400 naming the field", async () => {
    const asAk = await anonymous.post("/api/v1/machines/register", { ek_public: tpmA.ekPublic, ak_public: tpmA.ekPublic, hostname: "tpm-1" })
    expect(asAk.status).toBe(400)
    expect(asAk.body.message).toMatch(/^ak_public: is not a restricted signing key/)
    const truncated = await anonymous.post("/api/v1/machines/register", {
      ek_public: tpmA.ekPublic,
      ak_public: Buffer.from(tpmA.akPublic, "base64").subarray(0, 40).toString("base64"),
      hostname: "tpm-1"
    })
    expect(truncated.status).toBe(400)
    expect(truncated.body.message).toMatch(/^ak_public/)
  })
})

describe("attestation", () => {
  it("a pending machine cannot attest", async () => {
    const { response } = await attest(tpmA, enrolledA)
    expect(response.status).toBe(403)
    expect(response.body.error).toBe("not_approved")
    expect((await admin.get(`/api/v1/machines/${enrolledA}`)).body.status).toBe("pending_approval")
  })

  it("approve → attest → attested, with a machine session token that works", async () => {
    await admin.post(`/api/v1/machines/${enrolledA}/approve`)
    const { response, challenge } = await attest(tpmA, enrolledA)
    expect(challenge.pcr_selection).toBe("sha256:0,1,2,3,4,5,6,7")
    expect(response.status, response.text).toBe(200)
    expect(response.body.machine).toMatchObject({ id: enrolledA, status: "attested", failed_attestations: 0 })
    expect(response.body.session_token).toMatch(/^itl_ms_/)
    const me = await api(server, response.body.session_token).get("/api/v1/machines/me")
    expect(me.status).toBe(200)
    expect(me.body.id).toBe(enrolledA)
    // The first good quote after approval became the policy (trust on approve).
    const policy = await admin.get(`/api/v1/machines/${enrolledA}/pcr-policy`)
    expect(policy.body).toMatchObject({ source: "machine", pcr_selection: "sha256:0,1,2,3,4,5,6,7" })
    const events = await server.sql<{ event_type: string }>("SELECT event_type FROM events WHERE machine_id = $1 ORDER BY seq", [enrolledA])
    expect(events.map((e) => e.event_type)).toContain("machine.attested")
  })

  it("a session token must match X-EK-Fingerprint when sent, and is refused without one", async () => {
    const { response } = await attest(tpmA, enrolledA)
    const token = response.body.session_token
    const fingerprint = response.body.machine.ek_fingerprint
    expect((await api(server, token).get("/api/v1/machines/me", { "x-ek-fingerprint": fingerprint })).status).toBe(200)
    const mismatch = await api(server, token).get("/api/v1/machines/me", { "x-ek-fingerprint": "sha256:" + "0".repeat(64) })
    expect(mismatch.status).toBe(401)
    expect((await anonymous.get("/api/v1/machines/me", { "x-ek-fingerprint": fingerprint })).status).toBe(401)
    expect((await api(server, server.adminToken).get("/api/v1/machines/me")).status).toBe(401)
  })

  it("refuses a nonce the server never issued, and a replayed quote", async () => {
    const { evidence, response } = await attest(tpmA, enrolledA)
    expect(response.status).toBe(200)
    const replay = await anonymous.post("/api/v1/attest", { machine_id: enrolledA, ...evidence })
    expect(replay.status).toBe(403)
    expect(replay.body.error).toBe("nonce_mismatch")
    const made_up = await tpmA.quote(crypto.randomBytes(32).toString("hex"), "sha256:0,1,2,3,4,5,6,7")
    const wrong = await anonymous.post("/api/v1/attest", { machine_id: enrolledA, ...made_up })
    expect(wrong.body.error).toBe("nonce_mismatch")
    await attest(tpmA, enrolledA) // a good attestation resets the failure count
  })

  it("refuses an expired nonce", async () => {
    const challenge = (await anonymous.post("/api/v1/attest/challenge", { machine_id: enrolledA })).body
    await server.sql("UPDATE attestation_nonces SET expires_at = now() - interval '1 second' WHERE nonce = decode($1, 'hex')", [challenge.nonce])
    const evidence = await tpmA.quote(challenge.nonce, challenge.pcr_selection)
    const response = await anonymous.post("/api/v1/attest", { machine_id: enrolledA, ...evidence })
    expect(response.body.error).toBe("nonce_expired")
    await attest(tpmA, enrolledA)
  })

  it("refuses a quote signed by another TPM's AK, and by a non-activated AK of the same TPM", async () => {
    const challenge = (await anonymous.post("/api/v1/attest/challenge", { machine_id: enrolledA })).body
    const foreign = await tpmB.quote(challenge.nonce, challenge.pcr_selection)
    const response = await anonymous.post("/api/v1/attest", { machine_id: enrolledA, ...foreign })
    expect(response.status).toBe(403)
    expect(response.body.error).toBe("wrong_ak")

    await tpmA.withNewAk(async () => {
      const challenge2 = (await anonymous.post("/api/v1/attest/challenge", { machine_id: enrolledA })).body
      const sameTpmOtherAk = await tpmA.quote(challenge2.nonce, challenge2.pcr_selection)
      const response2 = await anonymous.post("/api/v1/attest", { machine_id: enrolledA, ...sameTpmOtherAk })
      expect(response2.body.error).toBe("wrong_ak")
    })
    await attest(tpmA, enrolledA) // back to the bound AK: resets the failure count
  })

  it("refuses PCR values that do not match the quote", async () => {
    const fresh = await startTpmMachine()
    try {
      const { id } = await enroll(fresh)
      await admin.post(`/api/v1/machines/${id}/approve`)
      const challenge = (await anonymous.post("/api/v1/attest/challenge", { machine_id: id })).body
      const evidence = await fresh.quote(challenge.nonce, challenge.pcr_selection)
      evidence.pcrs.sha256!["0"] = "00".repeat(32).replace(/^00/, "01")
      const response = await anonymous.post("/api/v1/attest", { machine_id: id, ...evidence })
      expect(response.body.error).toBe("pcr_digest_mismatch")
      const tampered = await fresh.quote((await anonymous.post("/api/v1/attest/challenge", { machine_id: id })).body.nonce, challenge.pcr_selection)
      tampered.signature = Buffer.from(tampered.signature, "base64").fill(7, 10, 20).toString("base64")
      expect((await anonymous.post("/api/v1/attest", { machine_id: id, ...tampered })).body.error).toBe("bad_signature")
    } finally {
      await fresh.stop()
    }
  })

  it("a PCR extended after the policy was set gives pcr_mismatch; failures past the threshold lock the machine", async () => {
    const fresh = await startTpmMachine()
    try {
      const { id } = await enroll(fresh)
      await admin.post(`/api/v1/machines/${id}/approve`)
      const good = await attest(fresh, id)
      expect(good.response.status).toBe(200)
      const session = good.response.body.session_token
      // An operator pins PCR 7 only; then the machine's PCR 7 changes.
      const pcr7 = good.evidence.pcrs.sha256!["7"]!
      const set = await admin.put(`/api/v1/machines/${id}/pcr-policy`, { pcrs: { sha256: { "7": pcr7 } } })
      expect(set.body).toMatchObject({ source: "machine", pcr_selection: "sha256:7" })
      expect((await attest(fresh, id)).response.status).toBe(200)
      await fresh.extendPcr(7)
      for (let attempt = 1; attempt <= 3; attempt++) {
        const { response, challenge } = await attest(fresh, id)
        expect(challenge.pcr_selection).toBe("sha256:7")
        expect(response.status).toBe(403)
        expect(response.body.error).toBe("pcr_mismatch")
        expect(response.body.details).toMatchObject({ pcrs: ["sha256:7"] })
      }
      const locked = (await admin.get(`/api/v1/machines/${id}`)).body
      expect(locked).toMatchObject({ status: "locked", status_reason: "exceeds failed attestation threshold", failed_attestations: 3 })
      const lockEvent = await server.sql<{ data: any }>("SELECT data FROM events WHERE machine_id = $1 AND event_type = 'machine.locked'", [id])
      expect(lockEvent[0]!.data.reason).toBe("exceeds failed attestation threshold")
      const audit = await admin.get(`/api/v1/audit?target_id=${id}&action=machine.locked`)
      expect(audit.body.entries[0]).toMatchObject({ actor: "system", actor_kind: "system" })
      // Lock ended the session, and a locked machine is not even sent a challenge.
      expect((await api(server, session).get("/api/v1/machines/me")).status).toBe(401)
      const refused = await anonymous.post("/api/v1/attest/challenge", { machine_id: id })
      expect([refused.status, refused.body.error]).toEqual([403, "machine_locked"])
      // The operator unlocks and accepts the new value.
      await admin.post(`/api/v1/machines/${id}/unlock`)
      await admin.delete(`/api/v1/machines/${id}/pcr-policy`)
      const after = await attest(fresh, id)
      expect(after.response.status).toBe(200)
      expect(after.response.body.machine.status).toBe("attested")
    } finally {
      await fresh.stop()
    }
  })

  it("accepts RSAPSS-signed quotes from an RSAPSS AK", async () => {
    const pss = await startTpmMachine({ rsaScheme: "rsapss" })
    try {
      const { id } = await enroll(pss)
      await admin.post(`/api/v1/machines/${id}/approve`)
      const { response } = await attest(pss, id)
      expect(response.status, response.text).toBe(200)
      expect(response.body.machine.status).toBe("attested")
    } finally {
      await pss.stop()
    }
  })

  it("revoke ends the machine's sessions at once", async () => {
    const fresh = await startTpmMachine()
    try {
      const { id } = await enroll(fresh)
      await admin.post(`/api/v1/machines/${id}/approve`)
      const token = (await attest(fresh, id)).response.body.session_token
      expect((await api(server, token).get("/api/v1/machines/me")).status).toBe(200)
      await admin.post(`/api/v1/machines/${id}/revoke`)
      expect((await api(server, token).get("/api/v1/machines/me")).status).toBe(401)
      const refused = await anonymous.post("/api/v1/attest/challenge", { machine_id: id })
      expect([refused.status, refused.body.error]).toEqual([403, "machine_revoked"])
    } finally {
      await fresh.stop()
    }
  })

  it("unknown machines and malformed evidence get clear answers", async () => {
    expect((await anonymous.post("/api/v1/attest/challenge", { machine_id: crypto.randomUUID() })).body.error).toBe("unknown_machine")
    const challenge = (await anonymous.post("/api/v1/attest/challenge", { machine_id: enrolledA })).body
    const evidence = await tpmA.quote(challenge.nonce, challenge.pcr_selection).catch(() => undefined)
    const base = evidence ?? { quote: "AAAA", signature: "AAAA", pcrs: {} }
    const unknown = await anonymous.post("/api/v1/attest", { ...base, machine_id: crypto.randomUUID() })
    expect(unknown.status).toBe(404)
    expect(unknown.body.error).toBe("unknown_machine")
    const truncated = await anonymous.post("/api/v1/attest", { ...base, machine_id: enrolledA, quote: Buffer.from("ff54434780", "hex").toString("base64") })
    expect(truncated.status).toBe(400)
    expect(truncated.body.message).toMatch(/^quote\./)
    const badPcr = await anonymous.post("/api/v1/attest", { ...base, machine_id: enrolledA, pcrs: { sha256: { "99": "00" } } })
    expect(badPcr.status).toBe(400)
    expect(badPcr.body.message).toMatch(/^pcrs/)
  })
})

describe("PCR policy endpoints", () => {
  it("sets, reads and clears the global default, which applies to machines without their own", async () => {
    const fresh = await startTpmMachine()
    try {
      const { id } = await enroll(fresh)
      expect((await admin.get(`/api/v1/machines/${id}/pcr-policy`)).body.source).toBe("none")
      const pcr0 = "00".repeat(32)
      const set = await admin.put("/api/v1/pcr-policy", { pcrs: { sha256: { "0": pcr0 } } })
      expect(set.body).toMatchObject({ source: "default", pcr_selection: "sha256:0" })
      expect((await admin.get(`/api/v1/machines/${id}/pcr-policy`)).body).toMatchObject({ source: "default", pcr_selection: "sha256:0" })
      await admin.post(`/api/v1/machines/${id}/approve`)
      const { response, challenge } = await attest(fresh, id)
      expect(challenge.pcr_selection).toBe("sha256:0")
      expect(response.status).toBe(200) // swtpm's PCR 0 is all zeros
      const bad = await admin.put("/api/v1/pcr-policy", { pcrs: { sha256: { "0": "zz" } } })
      expect(bad.status).toBe(400)
      expect(bad.body.message).toMatch(/^pcrs\.sha256\.0/)
      const viewer = await admin.post("/api/v1/operators/tokens", { name: "pcr-viewer", role: "viewer" })
      expect((await api(server, viewer.body.token).put("/api/v1/pcr-policy", { pcrs: { sha256: { "0": pcr0 } } })).status).toBe(403)
      expect((await admin.delete("/api/v1/pcr-policy")).body.source).toBe("none")
    } finally {
      await fresh.stop()
    }
  })
})
