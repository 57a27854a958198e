/**
 * The cryptographic checks of one attestation, as a pure function: which AK
 * signed, over which nonce, covering which PCRs, with which values (the order
 * is explained in docs/tpm.md). Policy is checked by the caller.
 */
import { Either } from "effect"
import { hashInfo, requireHash } from "../tpm/algorithms.js"
import { parseAttest, type TpmsAttestQuote } from "../tpm/attest.js"
import { TpmParseError } from "../tpm/errors.js"
import { akQualifiedNameUnderEk, nameOfPublic } from "../tpm/name.js"
import { computePcrDigest, formatPcrSelection, parsePcrSelection, pcrSelectionEquals, type PcrSelection } from "../tpm/pcr.js"
import { parsePcrFileSerialized } from "../tpm/pcrFile.js"
import type { KeyObject } from "node:crypto"
import { parseTpmtPublic, publicKeyFromTpmPublic, type TpmPublic } from "../tpm/public.js"
import { parseSignature, verifyQuoteSignature, type TpmSignature } from "../tpm/signature.js"
import type { PcrValuesJson, VerifiedPcrs } from "./PcrPolicy.js"

/** Evidence that the machine's AK did not sign, or that does not match what it signed. */
export type UnsignedFailure = "wrong_ak" | "bad_signature" | "pcr_digest_mismatch"

export interface ParsedEvidence {
  readonly attest: TpmsAttestQuote
  readonly signature: TpmSignature
  readonly quoteBytes: Buffer
  /** The supplied values, exactly one per PCR of the quote's selection (bank name → index → value). */
  readonly values: VerifiedPcrs
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

const base64 = (text: string, field: string) => {
  const compact = text.replace(/\s+/g, "")
  if (!BASE64.test(compact)) throw new TpmParseError(field, "must be base64")
  return Buffer.from(compact, "base64")
}

const quotedPcrs = (selection: ReadonlyArray<PcrSelection>) => {
  const quoted = new Map<string, Set<number>>()
  for (const bank of selection) if (bank.pcrs.length > 0) quoted.set(requireHash(bank.hashAlg, "quote.pcrSelect").name, new Set(bank.pcrs))
  return quoted
}

/**
 * `{bank: {index: hex}}` values for exactly the quote's selection: an entry
 * the quote does not cover is refused (it could only be mistaken for a
 * verified value), as is a covered PCR without a value.
 */
const valuesFromJson = (pcrs: PcrValuesJson, selection: ReadonlyArray<PcrSelection>): VerifiedPcrs => {
  const quoted = quotedPcrs(selection)
  const described = formatPcrSelection(selection)
  const out = new Map<string, Map<number, Buffer>>()
  for (const [bank, entries] of Object.entries(pcrs)) {
    const indexes = Object.keys(entries)
    if (indexes.length === 0 && !quoted.has(bank)) throw new TpmParseError(`pcrs.${bank}`, `not in the quote's PCR selection (${described})`)
    for (const index of indexes) {
      if (!quoted.get(bank)?.has(Number(index))) {
        throw new TpmParseError(`pcrs.${bank}.${index}`, `not in the quote's PCR selection (${described}); send only the quoted PCRs`)
      }
    }
  }
  for (const [bank, indexes] of quoted) {
    const values = new Map<number, Buffer>()
    for (const index of indexes) {
      const hex = pcrs[bank]?.[String(index)]
      if (hex === undefined) throw new TpmParseError(`pcrs.${bank}.${index}`, "missing: the quote covers this PCR")
      values.set(index, Buffer.from(hex, "hex"))
    }
    out.set(bank, values)
  }
  return out
}

/** The `tpm2_quote -o` file, base64: its selection must be the quote's. */
const valuesFromFile = (file: string, selection: ReadonlyArray<PcrSelection>): VerifiedPcrs => {
  const parsed = parsePcrFileSerialized(base64(file, "pcrs"), "pcrs")
  if (!pcrSelectionEquals(parsed.selection, selection)) {
    throw new TpmParseError("pcrs", `the PCR file covers ${formatPcrSelection(parsed.selection)}, the quote ${formatPcrSelection(selection)}`)
  }
  const out = new Map<string, Map<number, Buffer>>()
  for (const [alg, values] of parsed.values) {
    if (values.size > 0) out.set(hashInfo(alg)!.name, new Map([...values].map(([index, value]) => [index, Buffer.from(value)])))
  }
  return out
}

/** Throws TpmParseError (→ 400) on malformed input. `pcrs` is the JSON map or the base64 `tpm2_quote -o` file. */
export const parseEvidence = (quote: string, signature: string, pcrs: PcrValuesJson | string): ParsedEvidence => {
  const quoteBytes = base64(quote, "quote")
  const attest = parseAttest(quoteBytes, "quote")
  return {
    attest,
    signature: parseSignature(base64(signature, "signature"), "signature"),
    quoteBytes,
    values: typeof pcrs === "string" ? valuesFromFile(pcrs, attest.pcrSelect) : valuesFromJson(pcrs, attest.pcrSelect)
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

/**
 * What can be checked before anything is spent: that the machine's bound AK
 * signed this quote, and that the supplied values are the ones whose digest
 * it signed. Whatever fails here says nothing about the machine (anyone can
 * send it), so the caller neither counts it nor consumes a nonce for it.
 */
export const checkSigned = (
  evidence: ParsedEvidence,
  keys: { readonly ekPublicArea: Buffer; readonly akPublicArea: Buffer }
): Either.Either<void, UnsignedFailure> => {
  const { ak, akKey, expectedSigner } = prepareKeys(keys.ekPublicArea, keys.akPublicArea)
  if (!evidence.attest.qualifiedSigner.equals(expectedSigner)) return Either.left("wrong_ak")
  if (!verifyQuoteSignature(ak, evidence.quoteBytes, evidence.signature, akKey)) return Either.left("bad_signature")
  const supplied = Object.fromEntries(evidence.values)
  const digest = computePcrDigest(evidence.attest.pcrSelect, supplied, evidence.signature.hashAlg, "pcrs")
  if (!digest.equals(evidence.attest.pcrDigest)) return Either.left("pcr_digest_mismatch")
  return Either.right(undefined)
}

export type QuoteFailure = UnsignedFailure | "pcr_selection_mismatch"

/** Every cryptographic check of one quote against the selection it was asked for (nonce and policy aside). */
export const checkQuote = (
  evidence: ParsedEvidence,
  keys: { readonly ekPublicArea: Buffer; readonly akPublicArea: Buffer },
  requestedSelection: string
): Either.Either<void, QuoteFailure> => {
  const signed = checkSigned(evidence, keys)
  if (Either.isLeft(signed)) return signed
  return pcrSelectionEquals(evidence.attest.pcrSelect, parsePcrSelection(requestedSelection)) ? Either.right(undefined) : Either.left("pcr_selection_mismatch")
}
