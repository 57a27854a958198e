/**
 * Validation of what a machine sends to enroll: EK, AK and EK certificate,
 * as pure functions returning the first problem with the field it concerns.
 */
import { Either } from "effect"
import type * as crypto from "node:crypto"
import { parseEkCertificate, type EkKey, type EkKeyError } from "../machines/ekKey.js"
import { checkAkPublic, checkEkPublic } from "../tpm/attributes.js"
import { TpmParseError } from "../tpm/errors.js"
import { nameOfPublic } from "../tpm/name.js"
import { parseTpm2bPublic, type TpmPublic } from "../tpm/public.js"
import { verifyChain } from "./ekCertificate.js"

export interface EnrollmentKeys {
  readonly ekPublic: TpmPublic
  readonly akPublic: TpmPublic
  readonly akName: Buffer
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

/** The EK must be a TPM2B_PUBLIC with an EK's shape, the AK a restricted signing key made in the TPM. */
export const enrollmentKeys = (ek: EkKey, akBase64: string): Either.Either<EnrollmentKeys, EkKeyError> => {
  if (ek.tpmPublic === undefined) {
    return Either.left({ field: "ek_public", message: "must be the base64 TPM2B_PUBLIC (tpm2_createek -u) to enroll with an AK" })
  }
  const ekProblems = checkEkPublic(ek.tpmPublic)
  if (ekProblems.length > 0) return Either.left({ field: "ek_public", message: `is not an endorsement key: ${ekProblems.join("; ")}` })
  const compact = akBase64.replace(/\s+/g, "")
  if (!BASE64.test(compact)) return Either.left({ field: "ak_public", message: "must be base64 of a TPM2B_PUBLIC" })
  let akPublic: TpmPublic
  try {
    akPublic = parseTpm2bPublic(Buffer.from(compact, "base64"), "ak_public")
  } catch (error) {
    if (error instanceof TpmParseError) return Either.left({ field: error.field, message: error.message })
    throw error
  }
  const akProblems = checkAkPublic(akPublic)
  if (akProblems.length > 0) {
    return Either.left({ field: "ak_public", message: `is not a restricted signing key created in the TPM: ${akProblems.join("; ")}` })
  }
  return Either.right({ ekPublic: ek.tpmPublic, akPublic, akName: nameOfPublic(akPublic) })
}

export interface CertificateVerdict {
  readonly present: boolean
  readonly verified: boolean
  /** Why the chain did not verify (or that no bundle is configured). */
  readonly reason: string | undefined
}

/** Checks the certificate certifies the EK, then its chain when a bundle is configured. */
export const certificateVerdict = (
  certificate: string | undefined,
  ek: EkKey,
  bundle: ReadonlyArray<crypto.X509Certificate> | undefined
): Either.Either<CertificateVerdict, EkKeyError> => {
  if (certificate === undefined) return Either.right({ present: false, verified: false, reason: "no EK certificate was sent" })
  const parsed = parseEkCertificate(certificate, ek)
  if (Either.isLeft(parsed)) return Either.left(parsed.left)
  if (bundle === undefined) return Either.right({ present: true, verified: false, reason: "ITL_TPM_CA_BUNDLE is not set" })
  const failure = verifyChain(parsed.right, bundle)
  return Either.right({ present: true, verified: failure === undefined, reason: failure })
}
