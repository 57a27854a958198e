/**
 * End-to-end checks against a real (software) TPM: everything the library
 * computes in software must agree with what swtpm + tpm2-tools 5.4 produce
 * or accept. Skipped when swtpm/tpm2-tools are not installed.
 */
import { randomBytes, X509Certificate } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSwtpm, type Swtpm } from "../../../../test-support/swtpm.js";
import {
  akQualifiedNameUnderEk,
  checkAkAttributes,
  checkAkPublic,
  checkEkPublic,
  computePcrDigest,
  makeCredential,
  nameOfPublic,
  parseAttest,
  parsePcrFileSerialized,
  parsePcrFileValues,
  parsePcrSelection,
  parseSignature,
  parseTpm2bPublic,
  pcrSelectionEquals,
  spkiDerFromTpmPublic,
  TPM_ALG,
  toTpm2ToolsCredentialFile,
  verifyQuoteSignature,
  type TpmPublic,
} from "../../src/tpm/index.js";

const SLOW = 60_000;

interface Ek {
  readonly ctx: string;
  readonly pub: TpmPublic;
  readonly name: Buffer;
}

interface Ak {
  readonly ctx: string;
  readonly pub: TpmPublic;
  readonly name: Buffer;
  readonly nameFile: Buffer;
  readonly scheme: "rsassa" | "rsapss" | "ecdsa";
  readonly stdout: string;
}

describe("swtpm + tpm2-tools", () => {
  let tpm: Swtpm;
  const eks = new Map<string, Ek>();
  const aks = new Map<string, Ak>();

  /** Runs a tpm2 tool, then flushes transients (no resource manager: they would fill the TPM). */
  async function tool(cmd: string, args: readonly string[]): Promise<string> {
    try {
      return (await tpm.run(cmd, args)).stdout;
    } finally {
      await tpm.flushTransient();
    }
  }

  async function createEk(type: "rsa" | "ecc"): Promise<Ek> {
    const ctx = `ek-${type}.ctx`;
    await tool("tpm2_createek", ["-G", type, "-c", ctx, "-u", `ek-${type}.pub`]);
    const pub = parseTpm2bPublic(await readFile(tpm.path(`ek-${type}.pub`)), "ek_public");
    const ek = { ctx, pub, name: nameOfPublic(pub) };
    eks.set(type, ek);
    return ek;
  }

  async function createAk(id: string, ekCtx: string, alg: "rsa" | "ecc", scheme: Ak["scheme"]): Promise<Ak> {
    const ctx = `ak-${id}.ctx`;
    const stdout = await tool("tpm2_createak", [
      ...["-C", ekCtx, "-G", alg, "-g", "sha256", "-s", scheme],
      ...["-c", ctx, "-u", `ak-${id}.pub`, "-n", `ak-${id}.name`],
    ]);
    const pub = parseTpm2bPublic(await readFile(tpm.path(`ak-${id}.pub`)), "ak_public");
    const ak = { ctx, pub, name: nameOfPublic(pub), nameFile: await readFile(tpm.path(`ak-${id}.name`)), scheme, stdout };
    aks.set(id, ak);
    return ak;
  }

  /** The EK's PolicySecret(TPM_RH_ENDORSEMENT) session, as docs/tpm.md gives the commands. */
  async function activate(akCtx: string, ekCtx: string, credFile: string, out: string): Promise<Buffer> {
    const session = `session-${out}.ctx`;
    await tpm.run("tpm2_startauthsession", ["--policy-session", "-S", session]);
    try {
      await tpm.run("tpm2_policysecret", ["-S", session, "-c", "e"]);
      await tpm.run("tpm2_activatecredential", [
        ...["-c", akCtx, "-C", ekCtx, "-i", credFile, "-o", out, "-P", `session:${session}`],
      ]);
    } finally {
      await tpm.run("tpm2_flushcontext", [session]);
      await tpm.flushTransient();
    }
    return readFile(tpm.path(out));
  }

  async function writeCredential(file: string, ek: TpmPublic, objectName: Buffer, secret: Buffer): Promise<void> {
    await writeFile(tpm.path(file), toTpm2ToolsCredentialFile(makeCredential({ ekPublic: ek, objectName, secret })));
  }

  beforeAll(async () => {
    tpm = await startSwtpm({ pcrBanks: "sha1,sha256" });
    const ekRsa = await createEk("rsa");
    const ekEcc = await createEk("ecc");
    await createAk("rsassa", ekRsa.ctx, "rsa", "rsassa");
    await createAk("rsapss", ekRsa.ctx, "rsa", "rsapss");
    await createAk("ecdsa", ekEcc.ctx, "ecc", "ecdsa");
    // A cross pairing too: the AK type need not match the EK type.
    await createAk("ecdsa-under-rsa", ekRsa.ctx, "ecc", "ecdsa");
  }, SLOW);

  afterAll(async () => {
    await tpm?.stop();
  });

  const ek = (t: string): Ek => {
    const v = eks.get(t);
    if (v === undefined) throw new Error(`no EK ${t}`);
    return v;
  };
  const ak = (id: string): Ak => {
    const v = aks.get(id);
    if (v === undefined) throw new Error(`no AK ${id}`);
    return v;
  };

  describe("keys and names", () => {
    it("EKs parse and look like TCG EKs but fail the AK check", () => {
      for (const t of ["rsa", "ecc"]) {
        const p = ek(t).pub;
        expect(p.type).toBe(t);
        expect(checkEkPublic(p)).toEqual([]);
        expect(checkAkAttributes(p).length).toBeGreaterThan(0);
      }
    });

    it.each(["rsassa", "rsapss", "ecdsa", "ecdsa-under-rsa"])("AK %s: parses, passes checks, name = ak.name", (id) => {
      const a = ak(id);
      expect(a.pub.type).toBe(a.scheme === "ecdsa" ? "ecc" : "rsa");
      expect(checkAkAttributes(a.pub)).toEqual([]);
      expect(checkAkPublic(a.pub)).toEqual([]);
      expect(a.name.equals(a.nameFile)).toBe(true);
      expect(a.stdout).toContain(`name: ${a.name.toString("hex")}`);
    });

    it("qualified name printed by tpm2_createak = QN(AK) under the EK", () => {
      for (const [id, ekType] of [
        ["rsassa", "rsa"],
        ["ecdsa", "ecc"],
        ["ecdsa-under-rsa", "rsa"],
      ] as const) {
        const qn = akQualifiedNameUnderEk(ek(ekType).name, ak(id).name);
        expect(ak(id).stdout).toContain(`qualified name: ${qn.toString("hex")}`);
      }
    });
  });

  describe("credential activation", () => {
    it.each([
      ["rsa", "rsassa"],
      ["rsa", "ecdsa-under-rsa"],
      ["ecc", "ecdsa"],
    ])("%s EK / %s AK: the TPM recovers our secret", async (ekType, akId) => {
      const secret = randomBytes(32);
      const file = `cred-${ekType}-${akId}.in`;
      await writeCredential(file, ek(ekType).pub, ak(akId).name, secret);
      const recovered = await activate(ak(akId).ctx, ek(ekType).ctx, file, `secret-${ekType}-${akId}.out`);
      expect(recovered.equals(secret)).toBe(true);
    });

    it("short secrets work too", async () => {
      const secret = Buffer.from("hi");
      await writeCredential("cred-short.in", ek("ecc").pub, ak("ecdsa").name, secret);
      expect((await activate(ak("ecdsa").ctx, ek("ecc").ctx, "cred-short.in", "secret-short.out")).equals(secret)).toBe(
        true,
      );
    });

    it("a credential bound to another AK's name is refused (integrity check, 0x1DF)", async () => {
      await writeCredential("cred-wrong.in", ek("rsa").pub, ak("rsapss").name, randomBytes(32));
      await expect(activate(ak("rsassa").ctx, ek("rsa").ctx, "cred-wrong.in", "secret-wrong.out")).rejects.toThrow(
        /0x1DF|integrity/i,
      );
    });

    it("a credential for the other EK is refused", async () => {
      await writeCredential("cred-otherek.in", ek("ecc").pub, ak("rsassa").name, randomBytes(32));
      await expect(activate(ak("rsassa").ctx, ek("rsa").ctx, "cred-otherek.in", "secret-otherek.out")).rejects.toThrow();
    });
  });

  describe("quotes", () => {
    const selection = "sha256:0,1,2,3,7+sha1:0,7";
    const quotes = new Map<string, { nonce: Buffer; msg: Buffer; sig: Buffer; pcrs: Buffer }>();

    async function quote(id: string, tag: string, format?: "values") {
      const nonce = randomBytes(20);
      const files = { msg: `quote-${tag}.msg`, sig: `quote-${tag}.sig`, pcrs: `quote-${tag}.pcrs` };
      await tool("tpm2_quote", [
        ...["-c", ak(id).ctx, "-l", selection, "-q", nonce.toString("hex")],
        ...["-m", files.msg, "-s", files.sig, "-o", files.pcrs, "-g", "sha256"],
        // tpm2_quote defaults RSA keys to RSASSA; a PSS-only AK then fails with 0x2D2.
        ...(ak(id).scheme === "rsapss" ? ["--scheme", "rsapss"] : []),
        ...(format === "values" ? ["-F", "values"] : []),
      ]);
      const q = {
        nonce,
        msg: await readFile(tpm.path(files.msg)),
        sig: await readFile(tpm.path(files.sig)),
        pcrs: await readFile(tpm.path(files.pcrs)),
      };
      quotes.set(tag, q);
      return q;
    }

    it.each([
      ["rsassa", "rsa"],
      ["rsapss", "rsa"],
      ["ecdsa", "ecc"],
    ])("%s quote: nonce, signature, signer and PCR digest verify", async (id, ekType) => {
      const q = await quote(id, id);
      const a = parseAttest(q.msg);
      expect(a.extraData.equals(q.nonce)).toBe(true);
      expect(pcrSelectionEquals(a.pcrSelect, parsePcrSelection(selection))).toBe(true);
      expect(a.qualifiedSigner.equals(akQualifiedNameUnderEk(ek(ekType).name, ak(id).name))).toBe(true);

      const sig = parseSignature(q.sig);
      expect(sig.hashAlg).toBe(TPM_ALG.SHA256);
      expect(verifyQuoteSignature(ak(id).pub, q.msg, sig)).toBe(true);

      const tampered = Buffer.from(q.msg);
      tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
      expect(verifyQuoteSignature(ak(id).pub, tampered, q.sig)).toBe(false);
      const other = id === "ecdsa" ? ak("ecdsa-under-rsa") : ak(id === "rsassa" ? "rsapss" : "rsassa");
      expect(verifyQuoteSignature(other.pub, q.msg, q.sig)).toBe(false);

      const file = parsePcrFileSerialized(q.pcrs);
      expect(pcrSelectionEquals(file.selection, a.pcrSelect)).toBe(true);
      expect(computePcrDigest(a.pcrSelect, file.values, TPM_ALG.SHA256).equals(a.pcrDigest)).toBe(true);
    });

    it("-F values PCR file gives the same digest", async () => {
      const q = await quote("ecdsa", "ecdsa-values", "values");
      const a = parseAttest(q.msg);
      expect(q.pcrs.length).toBe(5 * 32 + 2 * 20);
      const values = parsePcrFileValues(q.pcrs, a.pcrSelect);
      expect(computePcrDigest(a.pcrSelect, values, TPM_ALG.SHA256).equals(a.pcrDigest)).toBe(true);
    });

    it("after tpm2_pcrextend the old values no longer match a fresh quote", async () => {
      const before = await quote("rsassa", "before-extend");
      const oldValues = parsePcrFileSerialized(before.pcrs).values;
      await tool("tpm2_pcrextend", [`7:sha256=${randomBytes(32).toString("hex")}`]);
      await tool("tpm2_pcrread", [selection, "-o", "pcrs-now.bin"]);
      const beforeAttest = parseAttest(before.msg);
      const nowValues = parsePcrFileValues(await readFile(tpm.path("pcrs-now.bin")), beforeAttest.pcrSelect);
      expect(nowValues.get(TPM_ALG.SHA256)?.get(7)?.equals(oldValues.get(TPM_ALG.SHA256)?.get(7) ?? Buffer.alloc(0))).toBe(
        false,
      );
      // SHA-1 bank untouched by a sha256-only extend.
      expect(nowValues.get(TPM_ALG.SHA1)?.get(7)?.equals(oldValues.get(TPM_ALG.SHA1)?.get(7) ?? Buffer.alloc(0))).toBe(true);

      const after = parseAttest((await quote("rsassa", "after-extend")).msg);
      expect(after.pcrDigest.equals(beforeAttest.pcrDigest)).toBe(false);
      expect(computePcrDigest(after.pcrSelect, oldValues, TPM_ALG.SHA256).equals(after.pcrDigest)).toBe(false);
      expect(computePcrDigest(after.pcrSelect, nowValues, TPM_ALG.SHA256).equals(after.pcrDigest)).toBe(true);
    });
  });

  describe("EK certificates from swtpm_setup's local CA", () => {
    it("RSA EK cert in NV 0x01c00002 chains to the CA and certifies tpm2_createek's key", async () => {
      if (tpm.caCertPaths === null || tpm.ekCertPaths === null) throw new Error("no certs");
      await tool("tpm2_nvread", ["0x01c00002", "-C", "o", "-o", "ek-rsa.der"]);
      const der = await readFile(tpm.path("ek-rsa.der"));
      expect(der.equals(await readFile(tpm.ekCertPaths.rsa2048))).toBe(true);
      const leaf = new X509Certificate(der);
      const intermediate = new X509Certificate(await readFile(tpm.caCertPaths.intermediate));
      const root = new X509Certificate(await readFile(tpm.caCertPaths.root));
      expect(leaf.verify(intermediate.publicKey)).toBe(true);
      expect(leaf.checkIssued(intermediate)).toBe(true);
      expect(intermediate.verify(root.publicKey)).toBe(true);
      expect(root.verify(root.publicKey)).toBe(true);
      const certSpki = leaf.publicKey.export({ type: "spki", format: "der" });
      expect(certSpki.equals(spkiDerFromTpmPublic(ek("rsa").pub))).toBe(true);
    });

    it("P-384 EK (0x81010016): cert matches, credential activates without a policy session", async () => {
      if (tpm.ekCertPaths === null) throw new Error("no certs");
      await tool("tpm2_readpublic", ["-c", "0x81010016", "-o", "ek-p384.pub"]);
      const ekPub = parseTpm2bPublic(await readFile(tpm.path("ek-p384.pub")), "ek_public");
      expect(checkEkPublic(ekPub)).toEqual([]);
      const leaf = new X509Certificate(await readFile(tpm.ekCertPaths.ecc));
      expect(leaf.publicKey.export({ type: "spki", format: "der" }).equals(spkiDerFromTpmPublic(ekPub))).toBe(true);

      const akP = await createAk("under-p384", "0x81010016", "ecc", "ecdsa");
      // tpm2_createak gives the AK the parent's nameAlg (SHA-384 here), not -g.
      expect(akP.pub.nameAlg).toBe(TPM_ALG.SHA384);
      expect(akP.name.equals(akP.nameFile)).toBe(true);
      const secret = randomBytes(48);
      await writeCredential("cred-p384.in", ekPub, akP.name, secret);
      try {
        await tpm.run("tpm2_activatecredential", [
          ...["-c", akP.ctx, "-C", "0x81010016", "-i", "cred-p384.in", "-o", "secret-p384.out"],
        ]);
      } finally {
        await tpm.flushTransient();
      }
      expect((await readFile(tpm.path("secret-p384.out"))).equals(secret)).toBe(true);
    });
  });
});
