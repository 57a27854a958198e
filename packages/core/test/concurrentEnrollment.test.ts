/**
 * One outstanding credential challenge per EK under concurrent registrations
 * with different AKs (no global lock on the write path): the registration
 * locks the machine row before deciding, so exactly one AK gets a challenge
 * and every other is refused as a later request would be (409
 * challenge_outstanding), instead of each replacing the one before. The
 * machine side is plain tpm2-tools against a swtpm.
 */
import { readFile } from "node:fs/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, startServer, type TestServer } from "../../../test-support/server.js"
import { startSwtpm, type Swtpm } from "../../../test-support/swtpm.js"

const AKS = 12
let tpm: Swtpm
let server: TestServer
let ekPublic: string
const akPublics: Array<string> = []

beforeAll(async () => {
  tpm = await startSwtpm({ ekCerts: false })
  const run = async (cmd: string, args: ReadonlyArray<string>) => {
    try {
      return await tpm.run(cmd, args)
    } finally {
      await tpm.run("tpm2_flushcontext", ["-t"])
    }
  }
  await run("tpm2_createek", ["-G", "rsa", "-c", "ek.ctx", "-u", "ek.pub"])
  ekPublic = (await readFile(tpm.path("ek.pub"))).toString("base64")
  for (let n = 0; n < AKS; n++) {
    await run("tpm2_createak", ["-C", "ek.ctx", "-G", "rsa", "-g", "sha256", "-s", "rsassa", "-c", `ak${n}.ctx`, "-u", `ak${n}.pub`, "-n", `ak${n}.name`])
    akPublics.push((await readFile(tpm.path(`ak${n}.pub`))).toString("base64"))
  }
  server = await startServer()
}, 120_000)
afterAll(async () => {
  await server?.stop()
  await tpm?.stop()
})

describe("concurrent registrations of one EK with different AKs", () => {
  it("issue one challenge: one 200 with a challenge, every other 409 challenge_outstanding, one challenge row", async () => {
    const anonymous = api(server)
    // Known EK, no challenge yet.
    const first = await anonymous.post("/api/v1/machines/register", { ek_public: ekPublic, hostname: "race-enroll" })
    expect(first.status, first.text).toBe(201)
    const answers = await Promise.all(
      akPublics.map((ak_public) => anonymous.post("/api/v1/machines/register", { ek_public: ekPublic, ak_public, hostname: "race-enroll" }))
    )
    expect(answers.map((a) => a.status).sort()).toEqual([200, ...Array(AKS - 1).fill(409)])
    for (const refused of answers.filter((a) => a.status === 409)) expect(refused.body.error).toBe("challenge_outstanding")
    const winner = answers.find((a) => a.status === 200)!
    expect(winner.body.challenge).not.toBeNull()
    const rows = await server.sql<{ n: number }>("SELECT count(*)::int AS n FROM enrollment_challenges")
    expect(rows[0]!.n).toBe(1)
  })
})
