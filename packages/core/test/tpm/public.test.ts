import { createPublicKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  parseTpm2bPublic,
  parseTpmtPublic,
  publicKeyFromTpmPublic,
  spkiDerFromTpmPublic,
  rsaPublicExponent,
  TPM_ALG,
  TPM_ECC,
} from "../../src/tpm/index.js";
import { FX } from "./fixtures.js";
import { expectAllPrefixesRejected, expectMutantsSafe, parseErrorOf } from "./helpers.js";

const all = {
  ekRsa: FX.ekRsaPub,
  ekEcc: FX.ekEccPub,
  ekP384: FX.ekP384Pub,
  akRsa: FX.akRsaPub,
  akPss: FX.akPssPub,
  akEcc: FX.akEccPub,
};

describe("parseTpm2bPublic: real keys", () => {
  it("RSA-2048 EK matches the L-1 template", () => {
    const p = parseTpm2bPublic(FX.ekRsaPub);
    expect(p.type).toBe("rsa");
    if (p.type !== "rsa") return;
    expect(p.nameAlg).toBe(TPM_ALG.SHA256);
    expect(p.objectAttributes).toBe(0x000300b2);
    expect(p.authPolicy.toString("hex")).toBe("837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa");
    expect(p.parameters.symmetric).toEqual({ algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB });
    expect(p.parameters.scheme).toEqual({ scheme: TPM_ALG.NULL, hashAlg: null });
    expect(p.parameters.keyBits).toBe(2048);
    expect(p.parameters.exponent).toBe(0);
    expect(rsaPublicExponent(p)).toBe(65537);
    expect(p.unique.modulus.length).toBe(256);
    expect(p.publicArea.equals(FX.ekRsaPub.subarray(2))).toBe(true);
  });

  it("ECC P-256 EK matches the L-2 template", () => {
    const p = parseTpm2bPublic(FX.ekEccPub);
    expect(p.type).toBe("ecc");
    if (p.type !== "ecc") return;
    expect(p.objectAttributes).toBe(0x000300b2);
    expect(p.parameters.curveId).toBe(TPM_ECC.NIST_P256);
    expect(p.parameters.kdf).toEqual({ scheme: TPM_ALG.NULL, hashAlg: null });
    expect(p.unique.x.length).toBe(32);
    expect(p.unique.y.length).toBe(32);
  });

  it("swtpm's P-384 EK (SHA-384, AES-256, userWithAuth)", () => {
    const p = parseTpm2bPublic(FX.ekP384Pub);
    if (p.type !== "ecc") throw new Error("expected ecc");
    expect(p.nameAlg).toBe(TPM_ALG.SHA384);
    expect(p.objectAttributes).toBe(0x000300f2);
    expect(p.authPolicy.length).toBe(48);
    expect(p.parameters.symmetric).toEqual({ algorithm: TPM_ALG.AES, keyBits: 256, mode: TPM_ALG.CFB });
    expect(p.parameters.curveId).toBe(TPM_ECC.NIST_P384);
    expect(p.unique.x.length).toBe(48);
    expect(publicKeyFromTpmPublic(p).asymmetricKeyDetails?.namedCurve).toBe("secp384r1");
  });

  it("AKs carry their signing schemes", () => {
    const rsa = parseTpm2bPublic(FX.akRsaPub);
    const pss = parseTpm2bPublic(FX.akPssPub);
    const ecc = parseTpm2bPublic(FX.akEccPub);
    expect(rsa.objectAttributes).toBe(0x00050072);
    expect(rsa.authPolicy.length).toBe(0);
    expect(rsa.parameters.symmetric).toBeNull();
    expect(rsa.parameters.scheme).toEqual({ scheme: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA256 });
    expect(pss.parameters.scheme).toEqual({ scheme: TPM_ALG.RSAPSS, hashAlg: TPM_ALG.SHA256 });
    expect(ecc.parameters.scheme).toEqual({ scheme: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA256 });
  });

  it("parseTpmtPublic accepts the bare public area", () => {
    const p = parseTpmtPublic(FX.akEccPub.subarray(2));
    expect(p.publicArea.equals(FX.akEccPub.subarray(2))).toBe(true);
  });

  it("does not alias the input buffer", () => {
    const copy = Buffer.from(FX.akRsaPub);
    const p = parseTpm2bPublic(copy);
    copy.fill(0);
    expect(p.publicArea.equals(FX.akRsaPub.subarray(2))).toBe(true);
  });
});

describe("key conversion", () => {
  it("RSA key: JWK modulus and exponent round-trip, SPKI is importable", () => {
    const p = parseTpm2bPublic(FX.akRsaPub);
    if (p.type !== "rsa") throw new Error("expected rsa");
    const jwk = publicKeyFromTpmPublic(p).export({ format: "jwk" });
    expect(Buffer.from(jwk.n ?? "", "base64url").equals(p.unique.modulus)).toBe(true);
    expect(jwk.e).toBe("AQAB");
    const spki = spkiDerFromTpmPublic(p);
    expect(createPublicKey({ key: spki, format: "der", type: "spki" }).asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it("ECC key coordinates round-trip", () => {
    const p = parseTpm2bPublic(FX.ekEccPub);
    if (p.type !== "ecc") throw new Error("expected ecc");
    const jwk = publicKeyFromTpmPublic(p).export({ format: "jwk" });
    expect(jwk.crv).toBe("P-256");
    expect(Buffer.from(jwk.x ?? "", "base64url").equals(p.unique.x)).toBe(true);
    expect(Buffer.from(jwk.y ?? "", "base64url").equals(p.unique.y)).toBe(true);
  });

  it("a point not on the curve is a parse error on unique", () => {
    const bad = Buffer.from(FX.akEccPub);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1;
    const p = parseTpm2bPublic(bad, "ak_public");
    expect(parseErrorOf(() => publicKeyFromTpmPublic(p, "ak_public")).field).toBe("ak_public.unique");
  });
});

describe("parseTpm2bPublic: malformed input", () => {
  it.each(Object.entries(all))("every truncation of %s is rejected", (_n, buf) => {
    expectAllPrefixesRejected(buf, (b) => parseTpm2bPublic(b));
  });

  it.each(Object.entries(all))("byte flips in %s never throw foreign errors", (_n, buf) => {
    expectMutantsSafe(buf, (b) => {
      const p = parseTpm2bPublic(b);
      publicKeyFromTpmPublic(p);
    });
  });

  it("rejects trailing bytes after the TPM2B", () => {
    const e = parseErrorOf(() => parseTpm2bPublic(Buffer.concat([FX.akRsaPub, Buffer.from([0])]), "ek_public"));
    expect(e.field).toBe("ek_public");
  });

  it("rejects trailing bytes inside the TPM2B (size covers garbage)", () => {
    const area = Buffer.concat([FX.akEccPub.subarray(2), Buffer.from([0, 0])]);
    const buf = Buffer.concat([Buffer.from([0, area.length]), area]);
    expect(parseErrorOf(() => parseTpm2bPublic(buf)).field).toBe("public");
  });

  it("rejects an outer size larger than the buffer", () => {
    const buf = Buffer.from(FX.akEccPub);
    buf.writeUInt16BE(buf.length, 0);
    expect(parseErrorOf(() => parseTpm2bPublic(buf)).field).toBe("public.size");
  });

  it("rejects an inner size field larger than the buffer", () => {
    const buf = Buffer.from(FX.ekRsaPub);
    buf.writeUInt16BE(0x0101, 58); // modulus size at offset 58
    expect(parseErrorOf(() => parseTpm2bPublic(buf, "ek_public")).field).toBe("ek_public.unique");
  });

  it("rejects a modulus that does not match keyBits", () => {
    const buf = Buffer.from(FX.akRsaPub);
    buf.writeUInt16BE(1024, 18); // keyBits
    expect(parseErrorOf(() => parseTpm2bPublic(buf, "ek_public")).field).toBe("ek_public.unique");
  });

  it("rejects unsupported object type", () => {
    const buf = Buffer.from(FX.akRsaPub);
    buf.writeUInt16BE(0x0008, 2); // KEYEDHASH
    expect(parseErrorOf(() => parseTpm2bPublic(buf)).field).toBe("public.type");
  });

  it("rejects unsupported nameAlg", () => {
    const buf = Buffer.from(FX.akRsaPub);
    buf.writeUInt16BE(0x0012, 4); // SM3_256
    expect(parseErrorOf(() => parseTpm2bPublic(buf)).field).toBe("public.nameAlg");
  });

  it("rejects unsupported curve", () => {
    const buf = Buffer.from(FX.akEccPub);
    buf.writeUInt16BE(0x0010, 18); // BN_P256
    expect(parseErrorOf(() => parseTpm2bPublic(buf)).field).toBe("public.parameters.curveId");
  });

  it("rejects unsupported scheme and symmetric algorithms", () => {
    const scheme = Buffer.from(FX.akEccPub);
    scheme.writeUInt16BE(0x0014, 14); // RSASSA on an ECC key
    expect(parseErrorOf(() => parseTpm2bPublic(scheme)).field).toBe("public.parameters.scheme.scheme");
    const sym = Buffer.from(FX.akEccPub);
    sym.writeUInt16BE(0x000a, 12); // XOR is not a TPMT_SYM_DEF_OBJECT algorithm
    expect(parseErrorOf(() => parseTpm2bPublic(sym)).field).toBe("public.parameters.symmetric.algorithm");
  });

  it("rejects an authPolicy whose length does not match nameAlg", () => {
    const area = Buffer.concat([
      FX.akEccPub.subarray(2, 10),
      Buffer.from([0, 3, 1, 2, 3]),
      FX.akEccPub.subarray(12),
    ]);
    const buf = Buffer.concat([Buffer.from([0, area.length]), area]);
    expect(parseErrorOf(() => parseTpm2bPublic(buf)).field).toBe("public.authPolicy");
  });

  it("rejects oversized ECC coordinates", () => {
    const x = Buffer.alloc(33, 1);
    const area = Buffer.concat([FX.akEccPub.subarray(2, 22), Buffer.from([0, 33]), x, FX.akEccPub.subarray(56)]);
    const buf = Buffer.concat([Buffer.from([0, area.length]), area]);
    expect(parseErrorOf(() => parseTpm2bPublic(buf)).field).toBe("public.unique.x");
  });

  it("rejects empty input and non-buffers", () => {
    parseErrorOf(() => parseTpm2bPublic(Buffer.alloc(0)));
    parseErrorOf(() => parseTpm2bPublic(Buffer.from([0, 0])));
    parseErrorOf(() => parseTpm2bPublic("00" as unknown as Buffer));
  });
});
