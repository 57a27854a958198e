import { sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  computePcrDigest,
  formatPcrSelection,
  parseAttest,
  parsePcrFileSerialized,
  parsePcrFileValues,
  parsePcrSelection,
  parseSignature,
  parseTpm2bPublic,
  pcrSelectionEquals,
  TPM_ALG,
  verifyQuoteSignature,
} from "../../src/tpm/index.js";
import { FX, QUOTE_NONCE } from "./fixtures.js";
import { expectAllPrefixesRejected, expectMutantsSafe, parseErrorOf, softwareEccAk } from "./helpers.js";

const { SHA1, SHA256 } = TPM_ALG;

describe("parseAttest", () => {
  it("decodes a real quote", () => {
    const q = parseAttest(FX.quoteRsaMsg);
    expect(q.magic).toBe(0xff544347);
    expect(q.type).toBe(0x8018);
    expect(q.qualifiedSigner.length).toBe(34);
    expect(q.extraData.equals(QUOTE_NONCE)).toBe(true);
    expect(q.pcrSelect).toEqual([{ hashAlg: SHA256, pcrs: [0, 1, 2, 3, 7] }]);
    expect(q.pcrDigest.length).toBe(32);
    expect(q.firmwareVersion).toBe(0x2019102300163636n);
    expect(typeof q.clockInfo.clock).toBe("bigint");
    expect(q.clockInfo.safe).toBe(true);
  });

  it("keeps bank order and sorts PCRs from the bitmap", () => {
    expect(parseAttest(FX.quoteMultiMsg).pcrSelect).toEqual([
      { hashAlg: SHA256, pcrs: [0, 1, 2, 3, 7, 16] },
      { hashAlg: SHA1, pcrs: [0, 1, 2, 3, 7, 16] },
    ]);
    const noNonce = parseAttest(FX.quoteMultiVMsg);
    expect(noNonce.extraData.length).toBe(0);
    expect(noNonce.pcrSelect.map((s) => s.hashAlg)).toEqual([SHA1, SHA256]);
  });

  it.each(["quoteRsaMsg", "quoteEccMsg", "quoteMultiMsg", "quoteMultiVMsg"] as const)(
    "every truncation of %s is rejected",
    (k) => expectAllPrefixesRejected(FX[k], (b) => parseAttest(b)),
  );

  it.each(["quoteRsaMsg", "quoteMultiMsg"] as const)("byte flips in %s never throw foreign errors", (k) =>
    expectMutantsSafe(FX[k], (b) => parseAttest(b)),
  );

  it("rejects wrong magic and wrong type", () => {
    const magic = Buffer.from(FX.quoteRsaMsg);
    magic[0] = 0;
    expect(parseErrorOf(() => parseAttest(magic)).field).toBe("quote.magic");
    const type = Buffer.from(FX.quoteRsaMsg);
    type.writeUInt16BE(0x8017, 4); // ATTEST_CERTIFY
    expect(parseErrorOf(() => parseAttest(type)).field).toBe("quote.type");
  });

  it("rejects trailing bytes and oversize fields", () => {
    expect(parseErrorOf(() => parseAttest(Buffer.concat([FX.quoteRsaMsg, Buffer.from([0])]))).field).toBe("quote");
    const signer = Buffer.from(FX.quoteRsaMsg);
    signer.writeUInt16BE(0xffff, 6);
    expect(parseErrorOf(() => parseAttest(signer)).field).toBe("quote.qualifiedSigner");
    const nonce = Buffer.from(FX.quoteRsaMsg);
    nonce.writeUInt16BE(60, 42); // fits the limit but not the buffer layout
    parseErrorOf(() => parseAttest(nonce));
  });

  it("rejects absurd PCR selection counts and unknown banks", () => {
    const n = QUOTE_NONCE.length;
    const count = Buffer.from(FX.quoteRsaMsg);
    count.writeUInt32BE(0xffffffff, 69 + n);
    expect(parseErrorOf(() => parseAttest(count)).field).toBe("quote.pcrSelect.count");
    const bank = Buffer.from(FX.quoteRsaMsg);
    bank.writeUInt16BE(0x0012, 73 + n); // SM3_256
    expect(parseErrorOf(() => parseAttest(bank)).field).toBe("quote.pcrSelect[0].hash");
  });

  it("uses the caller's label", () => {
    expect(parseErrorOf(() => parseAttest(Buffer.alloc(3), "body.quote")).field).toBe("body.quote.magic");
  });
});

describe("parseSignature", () => {
  it("decodes RSASSA, RSAPSS and ECDSA", () => {
    const rsa = parseSignature(FX.quoteRsaSig);
    expect(rsa).toMatchObject({ kind: "rsa", sigAlg: TPM_ALG.RSASSA, hashAlg: SHA256 });
    expect(parseSignature(FX.quotePssSig)).toMatchObject({ kind: "rsa", sigAlg: TPM_ALG.RSAPSS });
    const ecc = parseSignature(FX.quoteEccSig);
    expect(ecc.kind).toBe("ecc");
    if (ecc.kind === "ecc") expect(ecc.r.length + ecc.s.length).toBe(64);
  });

  it.each(["quoteRsaSig", "quotePssSig", "quoteEccSig"] as const)("every truncation of %s is rejected", (k) =>
    expectAllPrefixesRejected(FX[k], (b) => parseSignature(b)),
  );

  it.each(["quoteRsaSig", "quoteEccSig"] as const)("byte flips in %s never throw foreign errors", (k) =>
    expectMutantsSafe(FX[k], (b) => parseSignature(b)),
  );

  it("rejects unsupported algorithms, hashes and trailing bytes", () => {
    const alg = Buffer.from(FX.quoteEccSig);
    alg.writeUInt16BE(TPM_ALG.ECDAA, 0);
    expect(parseErrorOf(() => parseSignature(alg)).field).toBe("signature.sigAlg");
    const hash = Buffer.from(FX.quoteEccSig);
    hash.writeUInt16BE(0x0012, 2);
    expect(parseErrorOf(() => parseSignature(hash)).field).toBe("signature.hash");
    const trailing = Buffer.concat([FX.quoteEccSig, Buffer.from([0])]);
    expect(parseErrorOf(() => parseSignature(trailing)).field).toBe("signature");
  });
});

describe("verifyQuoteSignature", () => {
  const akRsa = parseTpm2bPublic(FX.akRsaPub);
  const akPss = parseTpm2bPublic(FX.akPssPub);
  const akEcc = parseTpm2bPublic(FX.akEccPub);

  it("accepts genuine RSASSA, RSAPSS and ECDSA quotes", () => {
    expect(verifyQuoteSignature(akRsa, FX.quoteRsaMsg, FX.quoteRsaSig)).toBe(true);
    expect(verifyQuoteSignature(akPss, FX.quotePssMsg, FX.quotePssSig)).toBe(true);
    expect(verifyQuoteSignature(akEcc, FX.quoteEccMsg, FX.quoteEccSig)).toBe(true);
    expect(verifyQuoteSignature(akEcc, FX.quoteMultiMsg, parseSignature(FX.quoteMultiSig))).toBe(true);
  });

  it("rejects any changed message byte", () => {
    for (const [ak, msg, sig] of [
      [akRsa, FX.quoteRsaMsg, FX.quoteRsaSig],
      [akPss, FX.quotePssMsg, FX.quotePssSig],
      [akEcc, FX.quoteEccMsg, FX.quoteEccSig],
    ] as const) {
      for (let i = 0; i < msg.length; i += 7) {
        const m = Buffer.from(msg);
        m[i] = (m[i] ?? 0) ^ 1;
        expect(verifyQuoteSignature(ak, m, sig)).toBe(false);
      }
    }
  });

  it("rejects other keys and mismatched schemes", () => {
    expect(verifyQuoteSignature(akPss, FX.quoteRsaMsg, FX.quoteRsaSig)).toBe(false); // PSS AK, PKCS#1 sig
    expect(verifyQuoteSignature(akRsa, FX.quotePssMsg, FX.quotePssSig)).toBe(false);
    expect(verifyQuoteSignature(akRsa, FX.quoteEccMsg, FX.quoteEccSig)).toBe(false);
    expect(verifyQuoteSignature(akEcc, FX.quoteRsaMsg, FX.quoteRsaSig)).toBe(false);
  });

  it("left-pads short ECDSA r/s (TPM2B values may drop leading zeros)", () => {
    const { ak, privateKey } = softwareEccAk();
    // About 1 in 128 signatures has an r or s with a leading zero byte.
    for (let i = 0; i < 5000; i++) {
      const msg = Buffer.from(`message ${i}`);
      const p1363 = sign("sha256", msg, { key: privateKey, dsaEncoding: "ieee-p1363" });
      const r = p1363.subarray(0, 32);
      const s = p1363.subarray(32);
      if (r[0] !== 0 && s[0] !== 0) continue;
      const strip = (b: Buffer) => (b[0] === 0 ? b.subarray(1) : b);
      const sig = { kind: "ecc", sigAlg: TPM_ALG.ECDSA, hashAlg: SHA256, r: strip(r), s: strip(s) } as const;
      expect(sig.r.length + sig.s.length).toBeLessThan(64);
      expect(verifyQuoteSignature(ak, msg, sig)).toBe(true);
      return;
    }
    throw new Error("no signature with a leading zero found");
  });

  it("rejects ECDSA r/s longer than the curve", () => {
    const sig = parseSignature(FX.quoteEccSig);
    if (sig.kind !== "ecc") throw new Error("expected ecc");
    const longer = { ...sig, r: Buffer.concat([Buffer.alloc(1), sig.r]) };
    expect(verifyQuoteSignature(akEcc, FX.quoteEccMsg, longer)).toBe(false);
  });

  it("throws TpmParseError for malformed signature bytes", () => {
    parseErrorOf(() => verifyQuoteSignature(akRsa, FX.quoteRsaMsg, FX.quoteRsaSig.subarray(0, 10)));
  });
});

describe("PCR digest and PCR files", () => {
  it("serialized -o file: selection, values and digest match the quote", () => {
    for (const [msg, pcrs] of [
      [FX.quoteRsaMsg, FX.quoteRsaPcrs],
      [FX.quoteMultiMsg, FX.quoteMultiPcrs],
    ] as const) {
      const q = parseAttest(msg);
      const { selection, values } = parsePcrFileSerialized(pcrs);
      expect(pcrSelectionEquals(selection, q.pcrSelect)).toBe(true);
      expect(computePcrDigest(q.pcrSelect, values, SHA256).equals(q.pcrDigest)).toBe(true);
    }
  });

  it("12 PCRs span two digest blocks; SHA-1 values stay 20 bytes", () => {
    const { values } = parsePcrFileSerialized(FX.quoteMultiPcrs);
    expect(values.get(SHA1)?.get(16)?.length).toBe(20);
    expect(values.get(SHA256)?.size).toBe(6);
  });

  it("-F values file split by the quote's selection", () => {
    for (const [msg, pcrs] of [
      [FX.quoteRsaVMsg, FX.quoteRsaVPcrs],
      [FX.quoteMultiVMsg, FX.quoteMultiVPcrs],
    ] as const) {
      const q = parseAttest(msg);
      const values = parsePcrFileValues(pcrs, q.pcrSelect);
      expect(computePcrDigest(q.pcrSelect, values, SHA256).equals(q.pcrDigest)).toBe(true);
    }
  });

  it("digest depends on bank order and on every value", () => {
    const q = parseAttest(FX.quoteMultiMsg);
    const { values } = parsePcrFileSerialized(FX.quoteMultiPcrs);
    const reversed = [...q.pcrSelect].reverse();
    expect(computePcrDigest(reversed, values, SHA256).equals(q.pcrDigest)).toBe(false);
    const changed = new Map([...values].map(([k, v]) => [k, new Map(v)]));
    changed.get(SHA1)?.set(7, Buffer.alloc(20, 0xff));
    expect(computePcrDigest(q.pcrSelect, changed, SHA256).equals(q.pcrDigest)).toBe(false);
  });

  it("accepts record-shaped values keyed by bank name or id", () => {
    const q = parseAttest(FX.quoteRsaMsg);
    const { values } = parsePcrFileSerialized(FX.quoteRsaPcrs);
    const bank = values.get(SHA256);
    if (bank === undefined) throw new Error("no bank");
    const rec = Object.fromEntries(bank);
    expect(computePcrDigest(q.pcrSelect, { sha256: rec }, SHA256).equals(q.pcrDigest)).toBe(true);
    expect(computePcrDigest(q.pcrSelect, { [SHA256]: rec }, SHA256).equals(q.pcrDigest)).toBe(true);
  });

  it("missing, non-byte or wrong-size values are parse errors", () => {
    const q = parseAttest(FX.quoteRsaMsg);
    const asHex = { sha256: { 0: "00".repeat(16) } } as unknown as Record<string, Record<number, Uint8Array>>;
    expect(parseErrorOf(() => computePcrDigest(q.pcrSelect, asHex, SHA256)).field).toBe("pcr_values.sha256[0]");
    parseErrorOf(() => computePcrDigest(q.pcrSelect, null as unknown as Map<number, Map<number, Buffer>>, SHA256));
    expect(parseErrorOf(() => computePcrDigest(q.pcrSelect, new Map(), SHA256)).field).toBe("pcr_values.sha256[0]");
    const short = new Map([[SHA256, new Map([[0, Buffer.alloc(31)]])]]);
    expect(parseErrorOf(() => computePcrDigest(q.pcrSelect, short, SHA256)).field).toBe("pcr_values.sha256[0]");
  });

  it.each(["quoteRsaPcrs", "quoteMultiPcrs"] as const)("every truncation of serialized %s is rejected", (k) =>
    expectAllPrefixesRejected(FX[k], (b) => parsePcrFileSerialized(b)),
  );

  it("byte flips in a serialized file never throw foreign errors", () =>
    expectMutantsSafe(FX.quoteMultiPcrs, (b) => parsePcrFileSerialized(b)));

  it("serialized file: huge block count, trailing bytes, bad counts", () => {
    const blocks = Buffer.from(FX.quoteRsaPcrs);
    blocks.writeUInt32LE(0xffffffff, 132);
    expect(parseErrorOf(() => parsePcrFileSerialized(blocks)).field).toBe("pcrs.digestBlocks");
    expect(parseErrorOf(() => parsePcrFileSerialized(Buffer.concat([FX.quoteRsaPcrs, Buffer.alloc(1)]))).field).toBe(
      "pcrs.digestBlocks",
    );
    const count = Buffer.from(FX.quoteRsaPcrs);
    count.writeUInt32LE(17, 0);
    expect(parseErrorOf(() => parsePcrFileSerialized(count)).field).toBe("pcrs.pcrSelect.count");
    const digests = Buffer.from(FX.quoteRsaPcrs);
    digests.writeUInt32LE(4, 136); // one digest fewer than the 5 selected PCRs
    expect(parseErrorOf(() => parsePcrFileSerialized(digests)).field).toBe("pcrs.digests");
  });

  it("values file: wrong length is rejected", () => {
    const sel = parseAttest(FX.quoteRsaVMsg).pcrSelect;
    expectAllPrefixesRejected(FX.quoteRsaVPcrs, (b) => parsePcrFileValues(b, sel));
    parseErrorOf(() => parsePcrFileValues(Buffer.concat([FX.quoteRsaVPcrs, Buffer.alloc(32)]), sel));
  });
});

describe("PCR selection strings", () => {
  it("parses and formats the tpm2-tools -l syntax", () => {
    const sel = parsePcrSelection("sha256:7,0,1+sha1:16");
    expect(sel).toEqual([
      { hashAlg: SHA256, pcrs: [0, 1, 7] },
      { hashAlg: SHA1, pcrs: [16] },
    ]);
    expect(formatPcrSelection(sel)).toBe("sha256:0,1,7+sha1:16");
    expect(pcrSelectionEquals(sel, parseAttest(FX.quoteRsaMsg).pcrSelect)).toBe(false);
    expect(pcrSelectionEquals(parsePcrSelection("sha256:0,1,2,3,7"), parseAttest(FX.quoteRsaMsg).pcrSelect)).toBe(
      true,
    );
  });

  it.each(["", "sha256", "sha256:", "md5:1", "sha256:1+sha256:2", "sha256:99", "sha256:1,,2"])(
    "rejects %j",
    (s) => {
      parseErrorOf(() => parsePcrSelection(s));
    },
  );
});
