/**
 * The machine side of enrollment and attestation, driven through tpm2-tools
 * against a swtpm, for tests that exercise the server's protocol (and its
 * attacks) step by step. The agent CLI does the same in production.
 */
import { readFile, writeFile } from "node:fs/promises"
import { parsePcrFileSerialized, hashInfo } from "../packages/core/src/tpm/index.js"
import { startSwtpm, type Swtpm } from "./swtpm.js"

export interface TpmMachine {
  readonly tpm: Swtpm
  /** Base64 TPM2B_PUBLIC of the EK and of the current AK. */
  readonly ekPublic: string
  akPublic: string
  /** The swtpm's EK certificate (RSA EK only), base64 DER. */
  readonly ekCertificate: string | undefined
  /** Runs `use` with a fresh AK under the same EK, then goes back to the current AK. */
  withNewAk<A>(use: (akPublic: string) => Promise<A>): Promise<A>
  /** Runs TPM2_ActivateCredential on the server's credential file; returns the recovered secret, base64. */
  activate(credentialFileBase64: string): Promise<string>
  /** tpm2_quote over `selection` with `nonceHex`; returns what POST /attest takes. */
  quote(nonceHex: string, selection: string): Promise<{ quote: string; signature: string; pcrs: Record<string, Record<string, string>> }>
  extendPcr(index: number, bank?: string): Promise<void>
  stop(): Promise<void>
}

let counter = 0

export const startTpmMachine = async (
  options: { ekAlg?: "rsa" | "ecc"; akAlg?: "rsa" | "ecc"; rsaScheme?: "rsassa" | "rsapss" } = {}
): Promise<TpmMachine> => {
  const tpm = await startSwtpm()
  const ekAlg = options.ekAlg ?? "rsa"
  const akAlg = options.akAlg ?? "rsa"
  const scheme = akAlg === "ecc" ? "ecdsa" : (options.rsaScheme ?? "rsassa")
  const tool = async (cmd: string, args: ReadonlyArray<string>) => {
    try {
      return await tpm.run(cmd, args)
    } finally {
      await tpm.flushTransient()
    }
  }
  await tool("tpm2_createek", ["-G", ekAlg, "-c", "ek.ctx", "-u", "ek.pub"])
  const ekPublic = (await readFile(tpm.path("ek.pub"))).toString("base64")
  const ekCertificate = ekAlg === "rsa" && tpm.ekCertPaths ? (await readFile(tpm.ekCertPaths.rsa2048)).toString("base64") : undefined

  let akCtx = ""
  const newAk = async () => {
    const id = ++counter
    akCtx = `ak-${id}.ctx`
    await tool("tpm2_createak", ["-C", "ek.ctx", "-G", akAlg, "-g", "sha256", "-s", scheme, "-c", akCtx, "-u", `ak-${id}.pub`, "-n", `ak-${id}.name`])
    return (await readFile(tpm.path(`ak-${id}.pub`))).toString("base64")
  }
  const machine: TpmMachine = {
    tpm,
    ekPublic,
    akPublic: await newAk(),
    ekCertificate,
    withNewAk: async (use) => {
      const [previousCtx, previousPublic] = [akCtx, machine.akPublic]
      machine.akPublic = await newAk()
      try {
        return await use(machine.akPublic)
      } finally {
        akCtx = previousCtx
        machine.akPublic = previousPublic
      }
    },
    activate: async (credentialFile) => {
      const id = ++counter
      await writeFile(tpm.path(`cred-${id}.in`), Buffer.from(credentialFile, "base64"))
      await tpm.run("tpm2_startauthsession", ["--policy-session", "-S", `session-${id}.ctx`])
      try {
        await tpm.run("tpm2_policysecret", ["-S", `session-${id}.ctx`, "-c", "e"])
        await tpm.run("tpm2_activatecredential", ["-c", akCtx, "-C", "ek.ctx", "-i", `cred-${id}.in`, "-o", `secret-${id}.out`, "-P", `session:session-${id}.ctx`])
      } finally {
        await tpm.run("tpm2_flushcontext", [`session-${id}.ctx`])
        await tpm.flushTransient()
      }
      return (await readFile(tpm.path(`secret-${id}.out`))).toString("base64")
    },
    quote: async (nonceHex, selection) => {
      const id = ++counter
      // An RSAPSS AK must be told its scheme, or the TPM refuses (0x2D2).
      const schemeArgs = scheme === "rsapss" ? ["--scheme", "rsapss"] : []
      await tool("tpm2_quote", ["-c", akCtx, "-l", selection, "-q", nonceHex, "-m", `q-${id}.msg`, "-s", `q-${id}.sig`, "-o", `q-${id}.pcrs`, "-g", "sha256", ...schemeArgs])
      const parsed = parsePcrFileSerialized(await readFile(tpm.path(`q-${id}.pcrs`)))
      const pcrs: Record<string, Record<string, string>> = {}
      for (const bank of parsed.selection) {
        const name = hashInfo(bank.hashAlg)!.name
        const values = parsed.values.get(bank.hashAlg)!
        pcrs[name] = Object.fromEntries(bank.pcrs.map((pcr) => [String(pcr), Buffer.from(values.get(pcr)!).toString("hex")]))
      }
      return {
        quote: (await readFile(tpm.path(`q-${id}.msg`))).toString("base64"),
        signature: (await readFile(tpm.path(`q-${id}.sig`))).toString("base64"),
        pcrs
      }
    },
    extendPcr: async (index, bank = "sha256") => {
      await tool("tpm2_pcrextend", [`${index}:${bank}=${"ab".repeat(bank === "sha1" ? 20 : 32)}`])
    },
    stop: () => tpm.stop()
  }
  return machine
}
