import { TPM_ALG, TPM_ECC } from "./constants.js";
import { TpmParseError } from "./errors.js";

export interface HashInfo {
  readonly alg: number;
  /** node:crypto digest name. */
  readonly name: "sha1" | "sha256" | "sha384" | "sha512";
  readonly size: number;
}

const HASHES: ReadonlyMap<number, HashInfo> = new Map<number, HashInfo>([
  [TPM_ALG.SHA1, { alg: TPM_ALG.SHA1, name: "sha1", size: 20 }],
  [TPM_ALG.SHA256, { alg: TPM_ALG.SHA256, name: "sha256", size: 32 }],
  [TPM_ALG.SHA384, { alg: TPM_ALG.SHA384, name: "sha384", size: 48 }],
  [TPM_ALG.SHA512, { alg: TPM_ALG.SHA512, name: "sha512", size: 64 }],
]);

/** Hash algorithms node can compute; SM3 and the like are deliberately absent. */
export function hashInfo(alg: number): HashInfo | undefined {
  return HASHES.get(alg);
}

/** Like hashInfo, but an unknown id in parsed input is a parse error at `field`. */
export function requireHash(alg: number, field: string): HashInfo {
  const h = HASHES.get(alg);
  if (h === undefined) {
    throw new TpmParseError(field, `unsupported hash algorithm 0x${hex16(alg)}`);
  }
  return h;
}

export function hashByName(name: string): HashInfo | undefined {
  for (const h of HASHES.values()) if (h.name === name) return h;
  return undefined;
}

export interface CurveInfo {
  readonly id: number;
  /** JWK "crv". */
  readonly jwk: "P-256" | "P-384" | "P-521";
  /** node:crypto / OpenSSL curve name for createECDH. */
  readonly nodeName: "prime256v1" | "secp384r1" | "secp521r1";
  /** Byte length of one coordinate. */
  readonly size: number;
}

const CURVES: ReadonlyMap<number, CurveInfo> = new Map<number, CurveInfo>([
  [TPM_ECC.NIST_P256, { id: TPM_ECC.NIST_P256, jwk: "P-256", nodeName: "prime256v1", size: 32 }],
  [TPM_ECC.NIST_P384, { id: TPM_ECC.NIST_P384, jwk: "P-384", nodeName: "secp384r1", size: 48 }],
  [TPM_ECC.NIST_P521, { id: TPM_ECC.NIST_P521, jwk: "P-521", nodeName: "secp521r1", size: 66 }],
]);

export function curveInfo(id: number): CurveInfo | undefined {
  return CURVES.get(id);
}

export function hex16(v: number): string {
  return v.toString(16).padStart(4, "0");
}
