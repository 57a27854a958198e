/**
 * The cryptographic checks of one attestation, in the order of the TPM notes
 * (§8.5), as a pure function: which AK signed, over which nonce, covering
 * which PCRs, with which values. Policy is checked by the caller.
 */
import { Either } from "effect"
import { parseAttest, type TpmsAttestQuote } from "../tpm/attest.js"
import { akQualifiedNameUnderEk, nameOfPublic } from "../tpm/name.js"
import { computePcrDigest, pcrSelectionEquals, parsePcrSelection } from "../tpm/pcr.js"
import type { KeyObject } from "node:crypto"
import { parseTpmtPublic, publicKeyFromTpmPublic, type TpmPublic } from "../tpm/public.js"
import { parseSignature, verifyQuoteSignature, type TpmSignature } from "../tpm/signature.js"
import { decodeValues, type PcrValuesJson } from "./PcrPolicy.js"

export type QuoteFailure = "wrong_ak" | "bad_signature" | "pcr_selection_mismatch" | "pcr_digest_mismatch"

export interface ParsedEvidence {
  readonly attest: TpmsAttestQuote
  readonly signature: TpmSignature
  readonly quoteBytes: Buffer
  readonly values: Record<string, Map<number, Buffer>>
}

/** Throws TpmParseError (→ 400) on malformed input. */
export const parseEvidence = (quote: string, signature: string, pcrs: PcrValuesJson): ParsedEvidence => {
  const quoteBytes = Buffer.from(quote, "base64")
  return {
    attest: parseAttest(quoteBytes, "quote"),
    signature: parseSignature(Buffer.from(signature, "base64"), "signature"),
    quoteBytes,
    values: decodeValues(pcrs, "pcrs")
  }
}

interface PreparedKeys {
  readonly ak: TpmPublic
  readonly akKey: KeyObject
  readonly expectedSigner: Buffer
}

/**
 * Parsing the enrolled keys and importing the AK into a node key cost more than
 * the signature check itself; both are pure functions of the stored bytes, so
 * they are kept for the most recently seen machines.
 */
const KEY_CACHE_SIZE = 1024
const keyCache = new Map<string, PreparedKeys>()

const prepareKeys = (ekPublicArea: Buffer, akPublicArea: Buffer): PreparedKeys => {
  const id = `${ekPublicArea.toString("base64")}.${akPublicArea.toString("base64")}`
  const cached = keyCache.get(id)
  if (cached !== undefined) {
    keyCache.delete(id)
    keyCache.set(id, cached)
    return cached
  }
  const ek = parseTpmtPublic(ekPublicArea, "ek_public")
  const ak = parseTpmtPublic(akPublicArea, "ak_public")
  // The signer's qualified name says which key (under which EK) made the quote;
  // only the AK bound by activation counts.
  const prepared = {
    ak,
    akKey: publicKeyFromTpmPublic(ak, "ak_public"),
    expectedSigner: akQualifiedNameUnderEk(nameOfPublic(ek), nameOfPublic(ak))
  }
  keyCache.set(id, prepared)
  if (keyCache.size > KEY_CACHE_SIZE) keyCache.delete(keyCache.keys().next().value!)
  return prepared
}

export const checkQuote = (
  evidence: ParsedEvidence,
  keys: { readonly ekPublicArea: Buffer; readonly akPublicArea: Buffer },
  requestedSelection: string
): Either.Either<void, QuoteFailure> => {
  const { ak, akKey, expectedSigner } = prepareKeys(keys.ekPublicArea, keys.akPublicArea)
  if (!evidence.attest.qualifiedSigner.equals(expectedSigner)) return Either.left("wrong_ak")
  if (!verifyQuoteSignature(ak, evidence.quoteBytes, evidence.signature, akKey)) return Either.left("bad_signature")
  if (!pcrSelectionEquals(evidence.attest.pcrSelect, parsePcrSelection(requestedSelection))) {
    return Either.left("pcr_selection_mismatch")
  }
  const digest = computePcrDigest(evidence.attest.pcrSelect, evidence.values, evidence.signature.hashAlg, "pcrs")
  if (!digest.equals(evidence.attest.pcrDigest)) return Either.left("pcr_digest_mismatch")
  return Either.right(undefined)
}
