import { describe, expect, it } from "vitest";
import {
  kdfa,
  kdfe,
  makeCredential,
  parseTpm2bPublic,
  parseTpm2ToolsCredentialFile,
  TPM_ALG,
  toTpm2ToolsCredentialFile,
  TpmParseError,
} from "../../src/tpm/index.js";
import { FX } from "./fixtures.js";
import { expectAllPrefixesRejected, parseErrorOf, softwareActivate, softwareEk } from "./helpers.js";

const hex = (s: string) => Buffer.from(s, "hex");
const SEED = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const VECTOR_NAME = hex("000b4d93691449b675537399ed7ecd811cc1e508818910d75d920bf817a5eb68e656");
const VECTOR_SECRET = Buffer.from("sixteen-byte-sec", "ascii");

describe("KDFs (KDFa, KDFe) and MakeCredential against known vectors", () => {
  it("KDFa STORAGE / INTEGRITY keys match the vector", () => {
    const empty = Buffer.alloc(0);
    expect(kdfa(TPM_ALG.SHA256, SEED, "STORAGE", VECTOR_NAME, empty, 128).toString("hex")).toBe(
      "b8e1ee9ae0075356a349c8de4d119b45",
    );
    expect(kdfa(TPM_ALG.SHA256, SEED, "INTEGRITY", empty, empty, 256).toString("hex")).toBe(
      "bacf689f634ece301e1f1b15b072d9c87db6a69585db42b1a0cb8f73ebe2692e",
    );
  });

  it("KDFa output length follows the requested bits across HMAC blocks", () => {
    const k = kdfa(TPM_ALG.SHA256, SEED, "X", Buffer.alloc(0), Buffer.alloc(0), 520);
    expect(k.length).toBe(65);
  });

  it("KDFe matches the OpenSSL SSKDF cross-check", () => {
    const out = kdfe(TPM_ALG.SHA256, Buffer.alloc(32, 1), "IDENTITY", Buffer.alloc(32, 2), Buffer.alloc(32, 3), 256);
    expect(out.toString("hex")).toBe("2073a3306eedcfb178183d8a721f949bba9c3d4501b6c2839487bbdd3b973070");
  });
});

describe("makeCredential", () => {
  const ekRsa = parseTpm2bPublic(FX.ekRsaPub, "ek_public");
  const ekEcc = parseTpm2bPublic(FX.ekEccPub, "ek_public");

  it("deterministic part (fixed seed) matches the known vector", () => {
    const r = makeCredential({ ekPublic: ekRsa, objectName: VECTOR_NAME, secret: VECTOR_SECRET, seed: SEED });
    const idObject =
      "00204ea47b622876467153bff9156667036bf629546ae63bd30390bfcbe73fda8ae06ca81b43b5ecf42f35a1872b32c85b6dfa57";
    expect(r.credentialBlob.toString("hex")).toBe(`0034${idObject}`);
    expect(r.encryptedSecret.readUInt16BE(0)).toBe(256);
    expect(r.encryptedSecret.length).toBe(258);
  });

  it("credential file layout matches tpm2_makecredential -T none output sizes", () => {
    const secret = Buffer.alloc(32, 7);
    const rsa = toTpm2ToolsCredentialFile(makeCredential({ ekPublic: ekRsa, objectName: FX.akRsaName, secret }));
    const ecc = toTpm2ToolsCredentialFile(makeCredential({ ekPublic: ekEcc, objectName: FX.akEccName, secret }));
    expect(rsa.length).toBe(FX.credRsaFile.length);
    expect(ecc.length).toBe(FX.credEccFile.length);
    expect(rsa.subarray(0, 12).toString("hex")).toBe("badcc0de0000000100440020");
    expect(rsa.subarray(0, 12).equals(FX.credRsaFile.subarray(0, 12))).toBe(true);
    expect(ecc.subarray(0, 12).equals(FX.credEccFile.subarray(0, 12))).toBe(true);
    // Same framing around the variable parts.
    const ours = parseTpm2ToolsCredentialFile(ecc);
    const theirs = parseTpm2ToolsCredentialFile(FX.credEccFile);
    expect(ours.encryptedSecret.subarray(0, 4).equals(theirs.encryptedSecret.subarray(0, 4))).toBe(true);
  });

  it.each(["rsa", "ecc"] as const)("software ActivateCredential recovers the secret (%s EK)", (type) => {
    const { ek, privateKey } = softwareEk(type);
    const secret = Buffer.from("0123456789abcdef0123456789abcdef", "ascii");
    const r = makeCredential({ ekPublic: ek, objectName: FX.akEccName, secret });
    expect(softwareActivate(ek, privateKey, FX.akEccName, r).equals(secret)).toBe(true);
    expect(() => softwareActivate(ek, privateKey, FX.akRsaName, r)).toThrow("integrity");
  });

  it("ECC encrypted secret is a fixed-length point and deterministic given the ephemeral key", () => {
    const secret = Buffer.alloc(16, 9);
    const ephemeralPrivateKey = Buffer.alloc(32, 0x42);
    const a = makeCredential({ ekPublic: ekEcc, objectName: FX.akEccName, secret, ephemeralPrivateKey });
    const b = makeCredential({ ekPublic: ekEcc, objectName: FX.akEccName, secret, ephemeralPrivateKey });
    expect(a.encryptedSecret.length).toBe(2 + 68);
    expect(a.encryptedSecret.subarray(0, 4).toString("hex")).toBe("00440020");
    expect(a.credentialBlob.equals(b.credentialBlob)).toBe(true);
  });

  it("uses the EK's own nameAlg and key size (P-384 / SHA-384 / AES-256)", () => {
    const ek = parseTpm2bPublic(FX.ekP384Pub);
    const r = makeCredential({ ekPublic: ek, objectName: FX.akEccName, secret: Buffer.alloc(48, 1) });
    expect(r.encryptedSecret.length).toBe(2 + 2 + 48 + 2 + 48);
    expect(r.credentialBlob.readUInt16BE(2)).toBe(48); // SHA-384 HMAC
    expect(() => makeCredential({ ekPublic: ek, objectName: FX.akEccName, secret: Buffer.alloc(49) })).toThrow(
      RangeError,
    );
  });

  it("rejects bad secrets and names as caller errors", () => {
    expect(() => makeCredential({ ekPublic: ekRsa, objectName: FX.akRsaName, secret: Buffer.alloc(0) })).toThrow(
      RangeError,
    );
    expect(() => makeCredential({ ekPublic: ekRsa, objectName: FX.akRsaName, secret: Buffer.alloc(33) })).toThrow(
      RangeError,
    );
    expect(() =>
      makeCredential({ ekPublic: ekRsa, objectName: FX.akRsaName.subarray(2), secret: Buffer.alloc(8) }),
    ).toThrow(RangeError);
  });

  it("rejects an EK that cannot protect credentials as a parse error", () => {
    const ak = parseTpm2bPublic(FX.akRsaPub, "ek_public");
    const e = parseErrorOf(() => makeCredential({ ekPublic: ak, objectName: FX.akRsaName, secret: Buffer.alloc(8) }));
    expect(e.field).toBe("ek_public.parameters.symmetric");
  });

  it("rejects an ECC EK point that is not on the curve", () => {
    const bad = Buffer.from(FX.ekEccPub);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1;
    const ek = parseTpm2bPublic(bad, "ek_public");
    const e = parseErrorOf(() => makeCredential({ ekPublic: ek, objectName: FX.akEccName, secret: Buffer.alloc(8) }));
    expect(e).toBeInstanceOf(TpmParseError);
    expect(e.field).toBe("ek_public.unique");
  });
});

describe("parseTpm2ToolsCredentialFile", () => {
  it("round-trips", () => {
    const r = makeCredential({
      ekPublic: parseTpm2bPublic(FX.ekRsaPub),
      objectName: FX.akRsaName,
      secret: Buffer.alloc(5),
    });
    expect(parseTpm2ToolsCredentialFile(toTpm2ToolsCredentialFile(r))).toEqual(r);
  });

  it("rejects truncation, bad magic, bad version and trailing bytes", () => {
    expectAllPrefixesRejected(FX.credRsaFile, (b) => parseTpm2ToolsCredentialFile(b));
    const magic = Buffer.from(FX.credRsaFile);
    magic[0] = 0;
    expect(parseErrorOf(() => parseTpm2ToolsCredentialFile(magic)).field).toBe("credential_file.magic");
    const version = Buffer.from(FX.credRsaFile);
    version[7] = 2;
    expect(parseErrorOf(() => parseTpm2ToolsCredentialFile(version)).field).toBe("credential_file.version");
    const trailing = Buffer.concat([FX.credEccFile, Buffer.from([1])]);
    expect(parseErrorOf(() => parseTpm2ToolsCredentialFile(trailing)).field).toBe("credential_file");
  });
});
