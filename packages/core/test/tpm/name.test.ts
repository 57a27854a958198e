import { describe, expect, it } from "vitest";
import {
  akQualifiedNameUnderEk,
  hierarchyQualifiedName,
  nameOfPublic,
  objectName,
  parseAttest,
  parseTpm2bPublic,
  qualifiedName,
  TPM_ALG,
  TPM_RH,
} from "../../src/tpm/index.js";
import { FX } from "./fixtures.js";

describe("object names", () => {
  it("matches a known test vector (ECC AK)", () => {
    const pub = Buffer.from(
      "00580023000b00050072000000100018000b0003001000204183fb7f046b94205bf6f8496097bf7c878cb05eab0044e944b7aaa6c879ef3d" +
        "0020515b2df388f9b8d991e8aad8f4af082f0e90dd23f8134f205ad61755e250905b",
      "hex",
    );
    const p = parseTpm2bPublic(pub);
    expect(objectName(p.publicArea, p.nameAlg).toString("hex")).toBe(
      "000b4d93691449b675537399ed7ecd811cc1e508818910d75d920bf817a5eb68e656",
    );
  });

  it.each([
    ["akRsaPub", "akRsaName"],
    ["akPssPub", "akPssName"],
    ["akEccPub", "akEccName"],
  ] as const)("%s name equals tpm2_createak -n output", (pub, name) => {
    const n = nameOfPublic(parseTpm2bPublic(FX[pub]));
    expect(n.length).toBe(34);
    expect(n.equals(FX[name])).toBe(true);
  });

  it("SHA-384 EK names are 50 bytes with prefix 000c", () => {
    const n = nameOfPublic(parseTpm2bPublic(FX.ekP384Pub));
    expect(n.length).toBe(50);
    expect(n.subarray(0, 2).toString("hex")).toBe("000c");
  });

  it("objectName rejects unknown algorithms", () => {
    expect(() => objectName(Buffer.alloc(4), TPM_ALG.NULL)).toThrow(RangeError);
  });
});

describe("qualified names", () => {
  it("quote qualifiedSigner = QN(AK) under the EK under TPM_RH_ENDORSEMENT", () => {
    const ekName = nameOfPublic(parseTpm2bPublic(FX.ekRsaPub));
    const qn = akQualifiedNameUnderEk(ekName, FX.akRsaName);
    expect(qn.equals(parseAttest(FX.quoteRsaMsg).qualifiedSigner)).toBe(true);
    const ekEccName = nameOfPublic(parseTpm2bPublic(FX.ekEccPub));
    expect(akQualifiedNameUnderEk(ekEccName, FX.akEccName).equals(parseAttest(FX.quoteEccMsg).qualifiedSigner)).toBe(
      true,
    );
  });

  it("is built step by step from the hierarchy handle", () => {
    const ekName = nameOfPublic(parseTpm2bPublic(FX.ekRsaPub));
    const ekQn = qualifiedName(hierarchyQualifiedName(TPM_RH.ENDORSEMENT), ekName);
    expect(hierarchyQualifiedName(TPM_RH.ENDORSEMENT).toString("hex")).toBe("4000000b");
    expect(qualifiedName(ekQn, FX.akRsaName).equals(akQualifiedNameUnderEk(ekName, FX.akRsaName))).toBe(true);
    // The plain name is not the qualified name (pitfall 12).
    expect(parseAttest(FX.quoteRsaMsg).qualifiedSigner.equals(FX.akRsaName)).toBe(false);
  });

  it("rejects malformed names", () => {
    expect(() => qualifiedName(Buffer.alloc(4), Buffer.from([0, 0x0b, 1]))).toThrow(RangeError);
    expect(() => qualifiedName(Buffer.alloc(4), Buffer.alloc(1))).toThrow(RangeError);
  });
});
