/**
 * The attestation protocol against a hostile or careless client: the machine
 * side is plain tpm2-tools against a swtpm (no project code), the server side
 * is reached with raw fetch, as an outsider would.
 */
import * as crypto from "node:crypto"
import { readFile, writeFile } from "node:fs/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { startSwtpm, type Swtpm } from "../../../test-support/swtpm.js"

/** A machine as a shell script would drive it: tpm2-tools only. */
interface PlainMachine {
  readonly tpm: Swtpm
  readonly ekPublic: string
  readonly akPublic: string
  /** Makes a new AK under the same EK (base64 TPM2B_PUBLIC); the bound one stays in use. */
  readonly otherAk: () => Promise<string>
  readonly activate: (credentialFile: string) => Promise<string>
  /** tpm2_quote; `pcrs` is parsed from `tpm2_pcrread`'s output, `pcrFile` is the `-o` file, base64. */
  readonly quote: (nonce: string, selection: string) => Promise<{ quote: string; signature: string; pcrs: Record<string, Record<string, string>>; pcrFile: string }>
}

let files = 0

const plainMachine = async (): Promise<PlainMachine> => {
  const tpm = await startSwtpm({ ekCerts: false })
  const run = async (cmd: string, args: ReadonlyArray<string>) => {
    try {
      return await tpm.run(cmd, args)
    } finally {
      await tpm.run("tpm2_flushcontext", ["-t"])
    }
  }
  const b64 = async (name: string) => (await readFile(tpm.path(name))).toString("base64")
  await run("tpm2_createek", ["-G", "rsa", "-c", "ek.ctx", "-u", "ek.pub"])
  await run("tpm2_createak", ["-C", "ek.ctx", "-G", "rsa", "-g", "sha256", "-s", "rsassa", "-c", "ak.ctx", "-u", "ak.pub", "-n", "ak.name"])
  return {
    tpm,
    ekPublic: await b64("ek.pub"),
    akPublic: await b64("ak.pub"),
    otherAk: async () => {
      const n = ++files
      await run("tpm2_createak", ["-C", "ek.ctx", "-G", "rsa", "-g", "sha256", "-s", "rsassa", "-c", `ak${n}.ctx`, "-u", `ak${n}.pub`, "-n", `ak${n}.name`])
      return b64(`ak${n}.pub`)
    },
    activate: async (credentialFile) => {
      const n = ++files
      await writeFile(tpm.path(`cred${n}.out`), Buffer.from(credentialFile, "base64"))
      await tpm.run("tpm2_startauthsession", ["--policy-session", "-S", `session${n}.ctx`])
      await tpm.run("tpm2_policysecret", ["-S", `session${n}.ctx`, "-c", "e"])
      await tpm.run("tpm2_activatecredential", ["-c", "ak.ctx", "-C", "ek.ctx", "-i", `cred${n}.out`, "-o", `secret${n}.bin`, "-P", `session:session${n}.ctx`])
      await tpm.run("tpm2_flushcontext", [`session${n}.ctx`])
      await tpm.run("tpm2_flushcontext", ["-t"])
      return b64(`secret${n}.bin`)
    },
    quote: async (nonce, selection) => {
      const n = ++files
      await run("tpm2_quote", ["-c", "ak.ctx", "-l", selection, "-q", nonce, "-m", `q${n}.msg`, "-s", `q${n}.sig`, "-o", `q${n}.pcrs`, "-g", "sha256"])
      // `  sha256:` then `    7 : 0x…` lines.
      const read = (await tpm.run("tpm2_pcrread", [selection])).stdout
      const pcrs: Record<string, Record<string, string>> = {}
      let bank = ""
      for (const line of read.split("\n")) {
        const header = /^\s+(sha\d+):\s*$/.exec(line)
        if (header) pcrs[(bank = header[1]!)] = {}
        const value = /^\s+(\d+)\s*:\s*0x([0-9A-Fa-f]+)\s*$/.exec(line)
        if (value) pcrs[bank]![value[1]!] = value[2]!.toLowerCase()
      }
      return { quote: await b64(`q${n}.msg`), signature: await b64(`q${n}.sig`), pcrs, pcrFile: await b64(`q${n}.pcrs`) }
    }
  }
}

const ZERO = "00".repeat(32)
const X = "ab".repeat(32)

let machine: PlainMachine
beforeAll(async () => {
  machine = await plainMachine()
}, 120_000)
afterAll(async () => {
  await machine?.tpm.stop()
})

/** A server with a fresh database; the machine registers, activates and is approved. */
const enrolled = async (env: Record<string, string> = {}) => {
  const server = await startServer({ env })
  const admin = api(server, server.adminToken)
  const anonymous = api(server)
  const registered = await anonymous.post("/api/v1/machines/register", { ek_public: machine.ekPublic, ak_public: machine.akPublic, hostname: "plain" })
  expect(registered.status, registered.text).toBe(201)
  const id = registered.body.machine.id as string
  const activated = await anonymous.post(`/api/v1/machines/${id}/activate`, { secret: await machine.activate(registered.body.challenge.credential_file) })
  expect(activated.status, activated.text).toBe(200)
  expect((await admin.post(`/api/v1/machines/${id}/approve`)).status).toBe(200)
  const challenge = async () => {
    const response = await anonymous.post("/api/v1/attest/challenge", { machine_id: id })
    expect(response.status, response.text).toBe(200)
    return response.body as { nonce: string; pcr_selection: string }
  }
  const attest = (evidence: Record<string, unknown>) => anonymous.post("/api/v1/attest", { machine_id: id, ...evidence })
  const record = async () => (await admin.get(`/api/v1/machines/${id}`)).body
  return { server, admin, anonymous, id, challenge, attest, record }
}

describe("only what the signed quote covers is compared with the policy", () => {
  it("a policy PCR outside the quoted selection fails (pcr_selection_mismatch), with or without a made-up value for it", async () => {
    const s = await enrolled()
    try {
      const challenge = await s.challenge()
      expect(challenge.pcr_selection).toBe("sha256:0,1,2,3,4,5,6,7")
      // The operator adds PCR 16 = X after the challenge; the machine's PCR 16 is really 0.
      const policy = await s.admin.put(`/api/v1/machines/${s.id}/pcr-policy`, { pcrs: { sha256: { "16": X } } })
      expect(policy.status).toBe(200)
      const evidence = await machine.quote(challenge.nonce, challenge.pcr_selection)
      const forged = await s.attest({ ...evidence, pcrFile: undefined, pcrs: { sha256: { ...evidence.pcrs.sha256, "16": X } } })
      expect(forged.status, forged.text).toBe(400)
      expect(forged.body.message).toMatch(/^pcrs\.sha256\.16: not in the quote's PCR selection/)
      const honest = await s.attest({ quote: evidence.quote, signature: evidence.signature, pcrs: evidence.pcrs })
      expect(honest.status, honest.text).toBe(403)
      expect(honest.body.error).toBe("pcr_selection_mismatch")
      expect(honest.body.details).toMatchObject({ pcrs: ["sha256:16"] })
      // Nothing about the machine changed: it did what its challenge asked.
      expect(await s.record()).toMatchObject({ status: "approved", failed_attestations: 0, last_attested_at: null })
      // A new challenge asks for PCR 16, and the real value (0) fails the policy.
      const next = await s.challenge()
      expect(next.pcr_selection).toBe("sha256:16")
      const real = await machine.quote(next.nonce, next.pcr_selection)
      expect(real.pcrs).toEqual({ sha256: { "16": ZERO } })
      const refused = await s.attest({ quote: real.quote, signature: real.signature, pcrs: real.pcrs })
      expect([refused.status, refused.body.error]).toEqual([403, "pcr_mismatch"])
    } finally {
      await s.server.stop()
    }
  })

  it("trust on first use records only the quoted PCRs: extra entries are refused and nothing is recorded", async () => {
    const s = await enrolled()
    try {
      const challenge = await s.challenge()
      const evidence = await machine.quote(challenge.nonce, challenge.pcr_selection)
      const extras: Array<[Record<string, unknown>, RegExp]> = [
        [{ sha256: { ...evidence.pcrs.sha256, "10": X } }, /^pcrs\.sha256\.10: not in the quote's PCR selection/],
        [{ ...evidence.pcrs, sha384: { "10": "cd".repeat(48) } }, /^pcrs\.sha384: not in the quote's PCR selection|^pcrs\.sha384\.10: not in/],
        [{ ...evidence.pcrs, md5: { "0": "00".repeat(16) } }, /^pcrs\.md5: unknown PCR bank/],
        [{ sha256: { ...evidence.pcrs.sha256, "03": ZERO } }, /^pcrs\.sha256\.03: PCR index must be 0 to 23/],
        [{ SHA256: evidence.pcrs.sha256 }, /^pcrs\.SHA256: unknown PCR bank/]
      ]
      for (const [pcrs, message] of extras) {
        const response = await s.attest({ quote: evidence.quote, signature: evidence.signature, pcrs })
        expect(response.status, response.text).toBe(400)
        expect(response.body.message).toMatch(message)
      }
      expect((await s.admin.get(`/api/v1/machines/${s.id}/pcr-policy`)).body).toMatchObject({ source: "none", pcrs: null })
      expect(await s.record()).toMatchObject({ status: "approved", failed_attestations: 0 })
      // The refusals spent no nonce: the same quote, sent right, is accepted and becomes the policy.
      const accepted = await s.attest({ quote: evidence.quote, signature: evidence.signature, pcrs: evidence.pcrs })
      expect(accepted.status, accepted.text).toBe(200)
      const recorded = (await s.admin.get(`/api/v1/machines/${s.id}/pcr-policy`)).body
      expect(recorded).toMatchObject({ source: "machine", pcr_selection: "sha256:0,1,2,3,4,5,6,7", pcrs: evidence.pcrs })
    } finally {
      await s.server.stop()
    }
  })

  it("accepts the `tpm2_quote -o` file, base64, as pcrs; a file for other PCRs is refused", async () => {
    const s = await enrolled()
    try {
      const challenge = await s.challenge()
      const evidence = await machine.quote(challenge.nonce, challenge.pcr_selection)
      const other = await machine.quote(challenge.nonce, "sha256:0,1")
      const mismatched = await s.attest({ quote: evidence.quote, signature: evidence.signature, pcrs: other.pcrFile })
      expect(mismatched.status).toBe(400)
      expect(mismatched.body.message).toMatch(/^pcrs: the PCR file covers sha256:0,1, the quote sha256:0,1,2,3,4,5,6,7/)
      const response = await s.attest({ quote: evidence.quote, signature: evidence.signature, pcrs: evidence.pcrFile })
      expect(response.status, response.text).toBe(200)
      expect(response.body.machine.status).toBe("attested")
    } finally {
      await s.server.stop()
    }
  })
})

describe("refusals that are not the machine's doing", () => {
  it("garbage quotes never lock the machine, spend no nonce, are audited, and are limited per client address", async () => {
    const s = await enrolled({ ITL_MAX_FAILED_ATTESTATIONS: "3", ITL_UNVERIFIED_ATTEST_LIMIT: "5" })
    try {
      const challenge = await s.challenge()
      const evidence = await machine.quote(challenge.nonce, challenge.pcr_selection)
      const signature = Buffer.from(evidence.signature, "base64")
      signature[signature.length - 1]! ^= 1
      const attempts = [
        { quote: evidence.quote, signature: signature.toString("base64"), pcrs: evidence.pcrs },
        { quote: crypto.randomBytes(120).toString("base64"), signature: evidence.signature, pcrs: evidence.pcrs },
        { quote: evidence.quote, signature: evidence.signature, pcrs: { sha256: { ...evidence.pcrs.sha256, "0": X } } },
        { quote: evidence.quote, signature: crypto.randomBytes(64).toString("base64"), pcrs: evidence.pcrs },
        { quote: evidence.quote, signature: signature.toString("base64"), pcrs: evidence.pcrs }
      ]
      const answers = []
      for (const attempt of attempts) answers.push(await s.attest(attempt))
      expect(answers.map((a) => a.body.error)).toEqual(["bad_signature", "bad_request", "pcr_digest_mismatch", "bad_request", "bad_signature"])
      expect(await s.record()).toMatchObject({ status: "approved", failed_attestations: 0 })
      // Past the limit: 429 with Retry-After, and nothing more is written down.
      const limited = await s.attest(attempts[0]!)
      expect(limited.status).toBe(429)
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0)
      const audit = await s.admin.get(`/api/v1/audit?target_id=${s.id}&action=machine.attestation_refused`)
      expect(audit.body.total).toBe(5)
      expect(audit.body.entries[0].details).toMatchObject({ client_address: expect.stringMatching(/127\.0\.0\.1/) })
      // The machine's own quote, over the nonce the garbage carried, still works (from any address).
      const genuine = await s.attest({ quote: evidence.quote, signature: evidence.signature, pcrs: evidence.pcrs })
      expect(genuine.status, genuine.text).toBe(200)
      expect(genuine.body.machine).toMatchObject({ status: "attested", failed_attestations: 0 })
    } finally {
      await s.server.stop()
    }
  })

  it("a quote the machine's AK signed over a wrong nonce does count, and locks at the threshold", async () => {
    const s = await enrolled({ ITL_MAX_FAILED_ATTESTATIONS: "2" })
    try {
      for (let i = 1; i <= 2; i++) {
        const made_up = await machine.quote(crypto.randomBytes(32).toString("hex"), "sha256:0,1,2,3,4,5,6,7")
        const response = await s.attest({ quote: made_up.quote, signature: made_up.signature, pcrs: made_up.pcrs })
        expect(response.body.error).toBe("nonce_mismatch")
      }
      expect(await s.record()).toMatchObject({ status: "locked", failed_attestations: 2 })
    } finally {
      await s.server.stop()
    }
  })
})

describe("challenges", () => {
  type Response = Awaited<ReturnType<ReturnType<typeof api>["post"]>>

  /**
   * The machine registers and gets a credential challenge; past the 10 s reissue interval, `meanwhile`
   * registers its EK again (as the machine retrying, or as anyone who saw its public keys); the machine's
   * answer to the FIRST challenge must still prove its EK.
   */
  const firstChallengeHolds = async (meanwhile: (anonymous: ReturnType<typeof api>, first: Response) => Promise<void>) => {
    const server = await startServer()
    const anonymous = api(server)
    try {
      const first = await anonymous.post("/api/v1/machines/register", { ek_public: machine.ekPublic, ak_public: machine.akPublic, hostname: "victim" })
      expect(first.status).toBe(201)
      await server.sql("UPDATE enrollment_challenges SET created_at = now() - interval '1 minute'")
      await meanwhile(anonymous, first)
      const secret = await machine.activate(first.body.challenge.credential_file)
      const activated = await anonymous.post(`/api/v1/machines/${first.body.machine.id}/activate`, { secret })
      expect(activated.status, activated.text).toBe(200)
      expect(activated.body.ek_verified).toBe(true)
    } finally {
      await server.stop()
    }
  }

  it("an outstanding credential challenge is not replaced by a registration with another AK", () =>
    firstChallengeHolds(async (anonymous) => {
      const hijack = await anonymous.post("/api/v1/machines/register", { ek_public: machine.ekPublic, ak_public: await machine.otherAk(), hostname: "victim" })
      expect(hijack.status, hijack.text).toBe(409)
      expect(hijack.body).toMatchObject({ error: "challenge_outstanding", details: { field: "ak_public" } })
    }))

  it("an outstanding credential challenge is not replaced by a registration with the same AK either: it is sent again", () =>
    firstChallengeHolds(async (anonymous, first) => {
      const replayed = await anonymous.post("/api/v1/machines/register", { ek_public: machine.ekPublic, ak_public: machine.akPublic, hostname: "victim" })
      expect(replayed.status, replayed.text).toBe(200)
      expect(replayed.body.challenge).toEqual(first.body.challenge)
    }))

  it("locked, revoked and rejected machines are sent no challenge of either kind", async () => {
    const s = await enrolled()
    try {
      expect((await s.admin.post(`/api/v1/machines/${s.id}/lock`)).status).toBe(200)
      const locked = await s.anonymous.post("/api/v1/attest/challenge", { machine_id: s.id })
      expect([locked.status, locked.body.error]).toEqual([403, "machine_locked"])
      expect((await s.admin.post(`/api/v1/machines/${s.id}/revoke`)).status).toBe(200)
      const revoked = await s.anonymous.post("/api/v1/attest/challenge", { machine_id: s.id })
      expect([revoked.status, revoked.body.error]).toEqual([403, "machine_revoked"])
      expect(await s.server.sql("SELECT 1 FROM attestation_nonces")).toHaveLength(0)

      // A rejected machine that never activated is not sent a credential challenge either.
      await s.server.sql("DELETE FROM machines")
      const registered = await s.anonymous.post("/api/v1/machines/register", { ek_public: machine.ekPublic, ak_public: machine.akPublic, hostname: "plain" })
      expect(registered.status).toBe(201)
      expect((await s.admin.post(`/api/v1/machines/${registered.body.machine.id}/reject`)).status).toBe(200)
      await s.server.sql("DELETE FROM enrollment_challenges")
      const again = await s.anonymous.post("/api/v1/machines/register", { ek_public: machine.ekPublic, ak_public: machine.akPublic, hostname: "plain" })
      expect([again.status, again.body.error]).toEqual([403, "machine_rejected"])
      expect(await s.server.sql("SELECT 1 FROM enrollment_challenges")).toHaveLength(0)
    } finally {
      await s.server.stop()
    }
  })

  it("a ninth outstanding attestation challenge is 429, and the eight stay valid", async () => {
    const s = await enrolled()
    try {
      const issued = []
      for (let i = 0; i < 8; i++) issued.push(await s.challenge())
      const ninth = await s.anonymous.post("/api/v1/attest/challenge", { machine_id: s.id })
      expect(ninth.status).toBe(429)
      expect(Number(ninth.headers.get("retry-after"))).toBeGreaterThan(0)
      const oldest = issued[0]!
      const evidence = await machine.quote(oldest.nonce, oldest.pcr_selection)
      const response = await s.attest({ quote: evidence.quote, signature: evidence.signature, pcrs: evidence.pcrs })
      expect(response.status, response.text).toBe(200)
      // Using one frees a place.
      expect((await s.anonymous.post("/api/v1/attest/challenge", { machine_id: s.id })).status).toBe(200)
    } finally {
      await s.server.stop()
    }
  })
})

describe("unlock", () => {
  it("starts a fresh failure count, and says so in the audit log", async () => {
    const s = await enrolled({ ITL_MAX_FAILED_ATTESTATIONS: "2" })
    try {
      await s.admin.put(`/api/v1/machines/${s.id}/pcr-policy`, { pcrs: { sha256: { "0": X } } })
      const badQuote = async () => {
        const challenge = await s.challenge()
        const evidence = await machine.quote(challenge.nonce, challenge.pcr_selection)
        return s.attest({ quote: evidence.quote, signature: evidence.signature, pcrs: evidence.pcrs })
      }
      expect((await badQuote()).body.error).toBe("pcr_mismatch")
      expect((await badQuote()).body.error).toBe("pcr_mismatch")
      expect(await s.record()).toMatchObject({ status: "locked", failed_attestations: 2 })
      const unlocked = await s.admin.post(`/api/v1/machines/${s.id}/unlock`, { reason: "investigated" })
      expect(unlocked.body).toMatchObject({ status: "approved", failed_attestations: 0 })
      const audit = await s.admin.get(`/api/v1/audit?target_id=${s.id}&action=machine.unlocked`)
      expect(audit.body.entries[0].details).toMatchObject({ failed_attestations_reset_from: 2 })
      expect((await badQuote()).body.error).toBe("pcr_mismatch")
      expect(await s.record()).toMatchObject({ status: "approved", failed_attestations: 1 })
    } finally {
      await s.server.stop()
    }
  })
})

describe("PCR policies and selections are checked whole", () => {
  let server: TestServer
  let admin: ReturnType<typeof api>
  let id: string
  beforeAll(async () => {
    server = await startServer()
    admin = api(server, server.adminToken)
    id = (await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "policy" })).body.machine.id
  })
  afterAll(() => server?.stop())

  it.each([
    [{ SHA256: { "7": ZERO } }, "pcrs.SHA256"],
    [{ sha256: { "7": ZERO }, md5: { "0": "00".repeat(16) } }, "pcrs.md5"],
    [{ sha256: { "24": ZERO } }, "pcrs.sha256.24"],
    [{ sha256: { "07": ZERO } }, "pcrs.sha256.07"],
    [{ sha256: { "-1": ZERO } }, "pcrs.sha256.-1"],
    [{ sha256: { "7": "00".repeat(20) } }, "pcrs.sha256.7"],
    [{ sha1: { "7": ZERO } }, "pcrs.sha1.7"],
    [{ sha256: { "7": "zz".repeat(32) } }, "pcrs.sha256.7"],
    [{}, "pcrs"],
    [{ sha256: {} }, "pcrs.sha256"]
  ])("refuses %j with a 400 naming %s, for a machine and as the default, and changes nothing", async (pcrs, field) => {
    for (const path of [`/api/v1/machines/${id}/pcr-policy`, "/api/v1/pcr-policy"]) {
      const response = await admin.put(path, { pcrs })
      expect(response.status, response.text).toBe(400)
      expect(response.body.message.startsWith(`${field}: `) || response.body.message.startsWith(`${field} `), response.body.message).toBe(true)
      expect((await admin.get(path)).body).toMatchObject({ source: "none", pcrs: null })
    }
  })

  it("policies stored before the checks: an empty one counts as none, a malformed one is still shown", async () => {
    await server.sql("UPDATE machines SET pcr_policy = '{}'::jsonb WHERE id = $1", [id])
    expect((await admin.get(`/api/v1/machines/${id}/pcr-policy`)).body).toMatchObject({ source: "none", pcr_selection: null })
    const challenge = await api(server).post("/api/v1/attest/challenge", { machine_id: id })
    expect(challenge.body.pcr_selection).toBe("sha256:0,1,2,3,4,5,6,7")
    await server.sql(`UPDATE machines SET pcr_policy = '{"sha1": {"7": "${ZERO}"}}'::jsonb WHERE id = $1`, [id])
    const legacy = await admin.get(`/api/v1/machines/${id}/pcr-policy`)
    expect(legacy.status, legacy.text).toBe(200)
    expect(legacy.body).toMatchObject({ source: "machine", pcr_selection: "sha1:7" })
    await admin.delete(`/api/v1/machines/${id}/pcr-policy`)
  })

  it("accepts every bank with values of its own length", async () => {
    const pcrs = { sha1: { "0": "00".repeat(20) }, sha256: { "23": ZERO }, sha384: { "7": "00".repeat(48) }, sha512: { "16": "00".repeat(64) } }
    const response = await admin.put(`/api/v1/machines/${id}/pcr-policy`, { pcrs })
    expect(response.status, response.text).toBe(200)
    expect(response.body.pcr_selection).toBe("sha1:0+sha256:23+sha384:7+sha512:16")
    await admin.delete(`/api/v1/machines/${id}/pcr-policy`)
  })
})
