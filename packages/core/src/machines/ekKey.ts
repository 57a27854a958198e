/**
 * Reads the EK public key a machine sends and names it. The fingerprint is
 * always computed here — `sha256:<hex>` of the DER SubjectPublicKeyInfo —
 * never taken from the client.
 */
import { Either } from "effect"
import * as crypto from "node:crypto"
import { TpmParseError } from "../tpm/errors.js"
import { parseTpm2bPublic, spkiDerFromTpmPublic, type TpmPublic } from "../tpm/public.js"

export interface EkKey {
  readonly spkiDer: Buffer
  readonly pem: string
  readonly fingerprint: string
  /** Present when the machine sent the TPM2B_PUBLIC (needed for credential activation). */
  readonly tpmPublic: TpmPublic | undefined
}

export interface EkKeyError {
  readonly field: string
  readonly message: string
}

export const fingerprintOf = (spkiDer: Uint8Array) =>
  "sha256:" + crypto.createHash("sha256").update(spkiDer).digest("hex")

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

const fromSpki = (spkiDer: Buffer, tpmPublic: TpmPublic | undefined): EkKey => ({
  spkiDer,
  pem: crypto.createPublicKey({ key: spkiDer, format: "der", type: "spki" }).export({ type: "spki", format: "pem" }).toString(),
  fingerprint: fingerprintOf(spkiDer),
  tpmPublic
})

const checkKeyType = (key: crypto.KeyObject, field: string): EkKeyError | undefined => {
  const type = key.asymmetricKeyType
  if (type === "rsa") return undefined
  if (type === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve
    if (curve === "prime256v1" || curve === "secp384r1") return undefined
    return { field, message: `unsupported EC curve ${curve ?? "unknown"} (P-256 or P-384 expected)` }
  }
  return { field, message: `unsupported key type ${type ?? "unknown"} (RSA or EC expected)` }
}

export const parseEkPublic = (input: string, field = "ek_public"): Either.Either<EkKey, EkKeyError> => {
  const text = input.trim()
  if (text.startsWith("-----BEGIN")) {
    let key: crypto.KeyObject
    try {
      key = crypto.createPublicKey({ key: text, format: "pem" })
    } catch {
      return Either.left({ field, message: "is not a PEM SubjectPublicKeyInfo public key" })
    }
    const problem = checkKeyType(key, field)
    if (problem) return Either.left(problem)
    return Either.right(fromSpki(key.export({ type: "spki", format: "der" }), undefined))
  }
  const compact = text.replace(/\s+/g, "")
  if (!BASE64.test(compact)) {
    return Either.left({ field, message: "must be a PEM public key or base64 of a TPM2B_PUBLIC" })
  }
  try {
    const tpmPublic = parseTpm2bPublic(Buffer.from(compact, "base64"), field)
    return Either.right(fromSpki(spkiDerFromTpmPublic(tpmPublic, field), tpmPublic))
  } catch (error) {
    if (error instanceof TpmParseError) return Either.left({ field: error.field, message: error.message })
    throw error
  }
}

/** Accepts PEM or base64 DER; checks it parses and certifies `ek`'s public key. */
export const parseEkCertificate = (
  input: string,
  ek: EkKey,
  field = "ek_certificate"
): Either.Either<crypto.X509Certificate, EkKeyError> => {
  const text = input.trim()
  let cert: crypto.X509Certificate
  try {
    cert = new crypto.X509Certificate(
      text.startsWith("-----BEGIN") ? text : Buffer.from(text.replace(/\s+/g, ""), "base64")
    )
  } catch {
    return Either.left({ field, message: "is not an X.509 certificate (PEM or base64 DER)" })
  }
  const certKey = cert.publicKey.export({ type: "spki", format: "der" })
  if (!certKey.equals(ek.spkiDer)) {
    return Either.left({ field, message: "certifies a different public key than ek_public" })
  }
  return Either.right(cert)
}
