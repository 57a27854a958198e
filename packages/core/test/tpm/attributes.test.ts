import { describe, expect, it } from "vitest";
import {
  checkAkAttributes,
  checkAkPublic,
  checkEkPublic,
  describeObjectAttributes,
  ekLooksLikeEk,
  parseTpm2bPublic,
} from "../../src/tpm/index.js";
import { FX } from "./fixtures.js";

function withAttrs(tpm2b: Buffer, attrs: number): Buffer {
  const b = Buffer.from(tpm2b);
  b.writeUInt32BE(attrs >>> 0, 6);
  return b;
}

describe("AK attribute checks", () => {
  it.each(["akRsaPub", "akPssPub", "akEccPub"] as const)("%s passes", (k) => {
    const p = parseTpm2bPublic(FX[k]);
    expect(checkAkAttributes(p)).toEqual([]);
    expect(checkAkPublic(p)).toEqual([]);
    expect(ekLooksLikeEk(p)).toBe(false);
  });

  it.each(["ekRsaPub", "ekEccPub", "ekP384Pub"] as const)("%s (an EK) fails as an AK", (k) => {
    const p = parseTpm2bPublic(FX[k]);
    const problems = checkAkAttributes(p);
    expect(problems).toContain("attribute sign must be set");
    expect(problems).toContain("attribute decrypt must be clear");
  });

  it.each([
    ["fixedTPM", 0x00000002],
    ["fixedParent", 0x00000010],
    ["sensitiveDataOrigin", 0x00000020],
    ["restricted", 0x00010000],
    ["sign", 0x00040000],
  ])("requires %s", (name, bit) => {
    const p = parseTpm2bPublic(withAttrs(FX.akRsaPub, 0x00050072 & ~bit));
    expect(checkAkAttributes(p)).toEqual([`attribute ${name} must be set`]);
  });

  it("forbids decrypt", () => {
    const p = parseTpm2bPublic(withAttrs(FX.akRsaPub, 0x00070072));
    expect(checkAkAttributes(p)).toEqual(["attribute decrypt must be clear"]);
  });

  it("describes attribute bits like tpm2_print", () => {
    expect(describeObjectAttributes(0x00050072)).toEqual([
      "fixedTPM",
      "fixedParent",
      "sensitiveDataOrigin",
      "userWithAuth",
      "restricted",
      "sign",
    ]);
  });

  it("checkAkPublic rejects a SHA-1 signing scheme", () => {
    const b = Buffer.from(FX.akEccPub);
    b.writeUInt16BE(0x0004, 16); // scheme hash
    expect(checkAkPublic(parseTpm2bPublic(b))).toEqual(["signing scheme must use a SHA-2 hash"]);
  });
});

describe("EK shape checks", () => {
  it.each(["ekRsaPub", "ekEccPub", "ekP384Pub"] as const)("%s looks like an EK", (k) => {
    expect(checkEkPublic(parseTpm2bPublic(FX[k]))).toEqual([]);
  });

  it("a decrypt-less EK is flagged", () => {
    const p = parseTpm2bPublic(withAttrs(FX.ekRsaPub, 0x000100b2));
    expect(checkEkPublic(p)).toEqual(["attribute decrypt must be set"]);
  });
});
