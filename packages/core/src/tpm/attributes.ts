import { TPM_ALG, TPM_ECC, TPMA_OBJECT } from "./constants.js";
import type { TpmPublic } from "./public.js";

type AttrName = keyof typeof TPMA_OBJECT;

/** Names of the TPMA_OBJECT bits set in `attrs`, for logs and error messages. */
export function describeObjectAttributes(attrs: number): AttrName[] {
  return (Object.keys(TPMA_OBJECT) as AttrName[]).filter((k) => (attrs & TPMA_OBJECT[k]) !== 0);
}

function missing(attrs: number, required: readonly AttrName[]): string[] {
  return required.filter((k) => (attrs & TPMA_OBJECT[k]) === 0).map((k) => `attribute ${k} must be set`);
}

/**
 * Properties that make an AK trustworthy: its private part never left this TPM
 * (fixedTPM, fixedParent, sensitiveDataOrigin) and it only signs TPM-generated
 * data (restricted + sign). A decrypting key could be abused to unwrap other
 * credentials, so decrypt must be clear. userWithAuth is normal and not checked.
 * Returns the list of problems; empty means acceptable.
 */
export function checkAkAttributes(p: TpmPublic): string[] {
  const attrs = p.objectAttributes;
  const problems = missing(attrs, ["fixedTPM", "fixedParent", "sensitiveDataOrigin", "restricted", "sign"]);
  if ((attrs & TPMA_OBJECT.decrypt) !== 0) problems.push("attribute decrypt must be clear");
  return problems;
}

const STRONG_HASHES: ReadonlySet<number> = new Set([TPM_ALG.SHA256, TPM_ALG.SHA384, TPM_ALG.SHA512]);

/**
 * checkAkAttributes plus the algorithm policy for AKs: a signing scheme we can
 * verify (RSASSA/RSAPSS/ECDSA with SHA-2), RSA >= 2048 or P-256/P-384, no
 * symmetric (restricted signing keys have none) and a SHA-2 nameAlg so that
 * names are collision resistant.
 */
export function checkAkPublic(p: TpmPublic): string[] {
  const problems = checkAkAttributes(p);
  if (!STRONG_HASHES.has(p.nameAlg)) problems.push("nameAlg must be SHA-256, SHA-384 or SHA-512");
  if (p.parameters.symmetric !== null) problems.push("symmetric must be NULL for a signing key");
  const { scheme, hashAlg } = p.parameters.scheme;
  if (hashAlg === null || !STRONG_HASHES.has(hashAlg)) problems.push("signing scheme must use a SHA-2 hash");
  if (p.type === "rsa") {
    if (scheme !== TPM_ALG.RSASSA && scheme !== TPM_ALG.RSAPSS) problems.push("RSA scheme must be RSASSA or RSAPSS");
    if (p.parameters.keyBits < 2048) problems.push("RSA key must be at least 2048 bits");
  } else {
    if (scheme !== TPM_ALG.ECDSA) problems.push("ECC scheme must be ECDSA");
    const c = p.parameters.curveId;
    if (c !== TPM_ECC.NIST_P256 && c !== TPM_ECC.NIST_P384) problems.push("ECC curve must be P-256 or P-384");
  }
  return problems;
}

/**
 * Shape of a TCG endorsement key (EK Credential Profile templates, and swtpm's
 * P-384 variant which additionally sets userWithAuth): a restricted decryption
 * key with an AES-CFB storage symmetric and no signing scheme. Returns problems.
 */
export function checkEkPublic(p: TpmPublic): string[] {
  const attrs = p.objectAttributes;
  const problems = missing(attrs, [
    "fixedTPM",
    "fixedParent",
    "sensitiveDataOrigin",
    "adminWithPolicy",
    "restricted",
    "decrypt",
  ]);
  if ((attrs & TPMA_OBJECT.sign) !== 0) problems.push("attribute sign must be clear");
  if (!STRONG_HASHES.has(p.nameAlg)) problems.push("nameAlg must be SHA-256, SHA-384 or SHA-512");
  if (p.authPolicy.length === 0) problems.push("authPolicy must be set");
  const sym = p.parameters.symmetric;
  if (sym === null || sym.algorithm !== TPM_ALG.AES || sym.mode !== TPM_ALG.CFB) {
    problems.push("symmetric must be AES-CFB");
  }
  if (p.parameters.scheme.scheme !== TPM_ALG.NULL) problems.push("scheme must be NULL");
  if (p.type === "ecc" && p.parameters.kdf.scheme !== TPM_ALG.NULL) problems.push("kdf must be NULL");
  return problems;
}

export function ekLooksLikeEk(p: TpmPublic): boolean {
  return checkEkPublic(p).length === 0;
}
