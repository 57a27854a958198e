import { constants, type KeyObject, verify } from "node:crypto";
import { curveInfo, hex16, requireHash } from "./algorithms.js";
import { TPM_ALG } from "./constants.js";
import { TpmParseError } from "./errors.js";
import { leftPad, publicKeyFromTpmPublic, type TpmPublic } from "./public.js";
import { TpmReader } from "./reader.js";

export interface TpmRsaSignature {
  readonly kind: "rsa";
  readonly sigAlg: number;
  readonly hashAlg: number;
  readonly signature: Buffer;
}

export interface TpmEcdsaSignature {
  readonly kind: "ecc";
  readonly sigAlg: number;
  readonly hashAlg: number;
  readonly r: Buffer;
  readonly s: Buffer;
}

export type TpmSignature = TpmRsaSignature | TpmEcdsaSignature;

/** RSA-16384 is the largest key we parse; ECC scalars are at most P-521's 66 bytes. */
const MAX_RSA_SIG = 2048;
const MAX_ECC_PARAM = 66;

/** Parses a TPMT_SIGNATURE (`tpm2_quote -s`, default `-f tss`) for RSASSA, RSAPSS or ECDSA. */
export function parseSignature(buf: Uint8Array, label = "signature"): TpmSignature {
  const rd = new TpmReader(buf, label);
  const sigAlg = rd.u16(`${label}.sigAlg`);
  if (sigAlg === TPM_ALG.RSASSA || sigAlg === TPM_ALG.RSAPSS) {
    const hashAlg = rd.u16(`${label}.hash`);
    requireHash(hashAlg, `${label}.hash`);
    const signature = rd.tpm2b(`${label}.sig`, MAX_RSA_SIG);
    rd.expectEnd(label);
    return { kind: "rsa", sigAlg, hashAlg, signature };
  }
  if (sigAlg === TPM_ALG.ECDSA) {
    const hashAlg = rd.u16(`${label}.hash`);
    requireHash(hashAlg, `${label}.hash`);
    const r = rd.tpm2b(`${label}.signatureR`, MAX_ECC_PARAM);
    const s = rd.tpm2b(`${label}.signatureS`, MAX_ECC_PARAM);
    rd.expectEnd(label);
    return { kind: "ecc", sigAlg, hashAlg, r, s };
  }
  throw new TpmParseError(`${label}.sigAlg`, `unsupported signature algorithm 0x${hex16(sigAlg)}`);
}

/**
 * Verifies a TPM signature over `message` (the raw `tpm2_quote -m` bytes) with
 * the AK. Returns false for any mismatch, including a signature scheme or hash
 * different from the one the AK is bound to; malformed signature bytes throw
 * TpmParseError. This checks only the cryptography: the caller must still
 * parse the message (magic, type, nonce) with parseAttest.
 */
export function verifyQuoteSignature(
  akPublic: TpmPublic,
  message: Uint8Array,
  sig: Uint8Array | TpmSignature,
  /** The AK as a node key, when the caller already has it (importing it is most of the cost). */
  akKey?: KeyObject,
): boolean {
  const parsed = sig instanceof Uint8Array ? parseSignature(sig) : sig;
  const bound = akPublic.parameters.scheme;
  // A restricted key signs only with its own scheme; anything else is not from this AK.
  if (bound.scheme !== TPM_ALG.NULL && (bound.scheme !== parsed.sigAlg || bound.hashAlg !== parsed.hashAlg)) {
    return false;
  }
  const hash = requireHash(parsed.hashAlg, "signature.hash").name;
  const key = akKey ?? publicKeyFromTpmPublic(akPublic, "ak_public");
  try {
    if (parsed.kind === "rsa") {
      if (akPublic.type !== "rsa" || parsed.signature.length !== akPublic.unique.modulus.length) return false;
      if (parsed.sigAlg === TPM_ALG.RSASSA) {
        return verify(hash, message, { key, padding: constants.RSA_PKCS1_PADDING }, parsed.signature);
      }
      // libtpms uses salt = digest length while the TCG text says "maximum"; AUTO accepts either.
      return verify(
        hash,
        message,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
        parsed.signature,
      );
    }
    if (akPublic.type !== "ecc") return false;
    const curve = curveInfo(akPublic.parameters.curveId);
    if (curve === undefined || parsed.r.length > curve.size || parsed.s.length > curve.size) return false;
    // TPM2B r/s may be shorter than the field size; IEEE-P1363 needs fixed-length halves.
    const p1363 = Buffer.concat([leftPad(parsed.r, curve.size), leftPad(parsed.s, curve.size)]);
    return verify(hash, message, { key, dsaEncoding: "ieee-p1363" }, p1363);
  } catch {
    return false;
  }
}
