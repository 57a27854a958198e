import { createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";
import { curveInfo, hex16, requireHash } from "./algorithms.js";
import { TPM_ALG, TPM_LIMITS } from "./constants.js";
import { TpmParseError } from "./errors.js";
import { TpmReader } from "./reader.js";

/** TPMT_SYM_DEF_OBJECT when its algorithm is not NULL (NULL is represented as `null`). */
export interface SymmetricDef {
  readonly algorithm: number;
  readonly keyBits: number;
  readonly mode: number;
}

/** TPMT_RSA_SCHEME / TPMT_ECC_SCHEME / TPMT_KDF_SCHEME; hashAlg is null for schemes without one (NULL, RSAES). */
export interface SchemeDef {
  readonly scheme: number;
  readonly hashAlg: number | null;
  /** Only present for ECDAA. */
  readonly count?: number;
}

export interface RsaParameters {
  readonly symmetric: SymmetricDef | null;
  readonly scheme: SchemeDef;
  readonly keyBits: number;
  /** As on the wire: 0 means the default 65537 (see rsaPublicExponent). */
  readonly exponent: number;
}

export interface EccParameters {
  readonly symmetric: SymmetricDef | null;
  readonly scheme: SchemeDef;
  readonly curveId: number;
  readonly kdf: SchemeDef;
}

interface TpmPublicCommon {
  readonly nameAlg: number;
  readonly objectAttributes: number;
  readonly authPolicy: Buffer;
  /** The TPMT_PUBLIC bytes exactly as received; names are computed over these, never a re-encoding. */
  readonly publicArea: Buffer;
}

export interface TpmRsaPublic extends TpmPublicCommon {
  readonly type: "rsa";
  readonly parameters: RsaParameters;
  readonly unique: { readonly modulus: Buffer };
}

export interface TpmEccPublic extends TpmPublicCommon {
  readonly type: "ecc";
  readonly parameters: EccParameters;
  readonly unique: { readonly x: Buffer; readonly y: Buffer };
}

export type TpmPublic = TpmRsaPublic | TpmEccPublic;

/**
 * Parses a TPM2B_PUBLIC (UINT16 size || TPMT_PUBLIC), as written by
 * `tpm2_createek -u`, `tpm2_createak -u` and `tpm2_readpublic -o`.
 * The size must match the rest of the buffer exactly.
 */
export function parseTpm2bPublic(buf: Uint8Array, label = "public"): TpmPublic {
  const r = new TpmReader(buf, label);
  const size = r.u16(`${label}.size`);
  if (size === 0) throw new TpmParseError(`${label}.size`, "empty public area");
  if (size > r.remaining) {
    throw new TpmParseError(`${label}.size`, `size field ${size} larger than the ${r.remaining} byte(s) left`);
  }
  const area = r.bytes(size, label);
  r.expectEnd(label);
  return parseTpmtPublic(area, label);
}

/** Parses a bare TPMT_PUBLIC (no size prefix); the whole buffer must be consumed. */
export function parseTpmtPublic(buf: Uint8Array, label = "public"): TpmPublic {
  const r = new TpmReader(buf, label);
  const publicArea = Buffer.from(buf);
  const type = r.u16(`${label}.type`);
  const nameAlg = r.u16(`${label}.nameAlg`);
  const nameHash = requireHash(nameAlg, `${label}.nameAlg`);
  const objectAttributes = r.u32(`${label}.objectAttributes`);
  const authPolicy = r.tpm2b(`${label}.authPolicy`, TPM_LIMITS.maxDigest);
  // A policy digest is always computed with the object's nameAlg.
  if (authPolicy.length !== 0 && authPolicy.length !== nameHash.size) {
    throw new TpmParseError(
      `${label}.authPolicy`,
      `length ${authPolicy.length} does not match nameAlg digest size ${nameHash.size}`,
    );
  }
  const common = { nameAlg, objectAttributes, authPolicy, publicArea };

  if (type === TPM_ALG.RSA) {
    const symmetric = readSymmetric(r, `${label}.parameters.symmetric`);
    const scheme = readScheme(r, RSA_SCHEMES, `${label}.parameters.scheme`);
    const keyBits = r.u16(`${label}.parameters.keyBits`);
    if (keyBits < TPM_LIMITS.minRsaKeyBits || keyBits > TPM_LIMITS.maxRsaKeyBits || keyBits % 8 !== 0) {
      throw new TpmParseError(`${label}.parameters.keyBits`, `unsupported RSA key size ${keyBits}`);
    }
    const exponent = r.u32(`${label}.parameters.exponent`);
    const modulus = r.tpm2b(`${label}.unique`);
    // A public key (unlike a creation template) carries the full-length modulus.
    if (modulus.length !== keyBits / 8) {
      throw new TpmParseError(`${label}.unique`, `modulus is ${modulus.length} bytes, expected ${keyBits / 8}`);
    }
    r.expectEnd(label);
    return { type: "rsa", ...common, parameters: { symmetric, scheme, keyBits, exponent }, unique: { modulus } };
  }

  if (type === TPM_ALG.ECC) {
    const symmetric = readSymmetric(r, `${label}.parameters.symmetric`);
    const scheme = readScheme(r, ECC_SCHEMES, `${label}.parameters.scheme`);
    const curveId = r.u16(`${label}.parameters.curveId`);
    const curve = curveInfo(curveId);
    if (curve === undefined) {
      throw new TpmParseError(`${label}.parameters.curveId`, `unsupported ECC curve 0x${hex16(curveId)}`);
    }
    const kdf = readScheme(r, KDF_SCHEMES, `${label}.parameters.kdf`);
    const x = r.tpm2b(`${label}.unique.x`);
    const y = r.tpm2b(`${label}.unique.y`);
    // TPMs emit fixed-length coordinates, but a leading zero may legitimately be stripped.
    for (const [c, v] of [["x", x], ["y", y]] as const) {
      if (v.length === 0 || v.length > curve.size) {
        throw new TpmParseError(`${label}.unique.${c}`, `coordinate is ${v.length} bytes, expected 1..${curve.size}`);
      }
    }
    r.expectEnd(label);
    return { type: "ecc", ...common, parameters: { symmetric, scheme, curveId, kdf }, unique: { x, y } };
  }

  throw new TpmParseError(`${label}.type`, `unsupported object type 0x${hex16(type)} (only RSA and ECC)`);
}

const SYMMETRIC_ALGS: ReadonlySet<number> = new Set([TPM_ALG.AES, TPM_ALG.SM4, TPM_ALG.CAMELLIA]);

function readSymmetric(r: TpmReader, field: string): SymmetricDef | null {
  const algorithm = r.u16(`${field}.algorithm`);
  if (algorithm === TPM_ALG.NULL) return null;
  if (!SYMMETRIC_ALGS.has(algorithm)) {
    throw new TpmParseError(`${field}.algorithm`, `unsupported symmetric algorithm 0x${hex16(algorithm)}`);
  }
  const keyBits = r.u16(`${field}.keyBits`);
  const mode = r.u16(`${field}.mode`);
  return { algorithm, keyBits, mode };
}

/** How a scheme selector decides the shape of its union member. */
type SchemeShape = "empty" | "hash" | "hash+count";

const RSA_SCHEMES: ReadonlyMap<number, SchemeShape> = new Map<number, SchemeShape>([
  [TPM_ALG.NULL, "empty"],
  [TPM_ALG.RSAES, "empty"],
  [TPM_ALG.RSASSA, "hash"],
  [TPM_ALG.RSAPSS, "hash"],
  [TPM_ALG.OAEP, "hash"],
]);

const ECC_SCHEMES: ReadonlyMap<number, SchemeShape> = new Map<number, SchemeShape>([
  [TPM_ALG.NULL, "empty"],
  [TPM_ALG.ECDSA, "hash"],
  [TPM_ALG.ECDH, "hash"],
  [TPM_ALG.ECMQV, "hash"],
  [TPM_ALG.SM2, "hash"],
  [TPM_ALG.ECSCHNORR, "hash"],
  [TPM_ALG.ECDAA, "hash+count"],
]);

const KDF_SCHEMES: ReadonlyMap<number, SchemeShape> = new Map<number, SchemeShape>([
  [TPM_ALG.NULL, "empty"],
  [TPM_ALG.MGF1, "hash"],
  [TPM_ALG.KDF1_SP800_56A, "hash"],
  [TPM_ALG.KDF2, "hash"],
  [TPM_ALG.KDF1_SP800_108, "hash"],
]);

function readScheme(r: TpmReader, allowed: ReadonlyMap<number, SchemeShape>, field: string): SchemeDef {
  const scheme = r.u16(`${field}.scheme`);
  const shape = allowed.get(scheme);
  if (shape === undefined) {
    throw new TpmParseError(`${field}.scheme`, `unsupported scheme 0x${hex16(scheme)}`);
  }
  if (shape === "empty") return { scheme, hashAlg: null };
  const hashAlg = r.u16(`${field}.hashAlg`);
  requireHash(hashAlg, `${field}.hashAlg`);
  if (shape === "hash") return { scheme, hashAlg };
  const count = r.u16(`${field}.count`);
  return { scheme, hashAlg, count };
}

/** The effective RSA public exponent (TPM encodes the default 65537 as 0). */
export function rsaPublicExponent(p: TpmRsaPublic): number {
  return p.parameters.exponent === 0 ? 65537 : p.parameters.exponent;
}

/** JWK for the public key; ECC coordinates are left-padded because JWK requires fixed-length values. */
export function jwkFromTpmPublic(p: TpmPublic, label = "public"): JsonWebKey {
  if (p.type === "rsa") {
    return { kty: "RSA", n: b64url(p.unique.modulus), e: b64url(uintBytes(rsaPublicExponent(p))) };
  }
  const curve = curveInfo(p.parameters.curveId);
  if (curve === undefined) {
    throw new TpmParseError(`${label}.parameters.curveId`, `unsupported ECC curve 0x${hex16(p.parameters.curveId)}`);
  }
  return {
    kty: "EC",
    crv: curve.jwk,
    x: b64url(leftPad(p.unique.x, curve.size)),
    y: b64url(leftPad(p.unique.y, curve.size)),
  };
}

/**
 * Node KeyObject for the key. Node validates the material (e.g. that an ECC
 * point lies on its curve); a rejection is reported as a parse error because
 * the bytes came from the client.
 */
export function publicKeyFromTpmPublic(p: TpmPublic, label = "public"): KeyObject {
  const jwk = jwkFromTpmPublic(p, label);
  try {
    return createPublicKey({ key: jwk, format: "jwk" });
  } catch (e) {
    throw new TpmParseError(`${label}.unique`, `invalid public key: ${(e as Error).message}`);
  }
}

/** DER SubjectPublicKeyInfo, e.g. to compare with an EK certificate's key. */
export function spkiDerFromTpmPublic(p: TpmPublic, label = "public"): Buffer {
  return publicKeyFromTpmPublic(p, label).export({ type: "spki", format: "der" });
}

export function leftPad(b: Uint8Array, size: number): Buffer {
  if (b.length >= size) return Buffer.from(b);
  const out = Buffer.alloc(size);
  out.set(b, size - b.length);
  return out;
}

function b64url(b: Uint8Array): string {
  return Buffer.from(b).toString("base64url");
}

function uintBytes(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  let i = 0;
  while (i < 3 && b[i] === 0) i++;
  return b.subarray(i);
}
