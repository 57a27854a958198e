/**
 * PCR values as they travel in JSON — `{ "sha256": { "0": "<hex>", … } }` —
 * and the policy rules: which PCRs a quote must cover and what they must hold.
 */
import { Schema } from "effect"
import { hashByName } from "../tpm/algorithms.js"
import { TpmParseError } from "../tpm/errors.js"
import { parsePcrSelection, type PcrSelection } from "../tpm/pcr.js"

const BANK_ORDER = ["sha1", "sha256", "sha384", "sha512"] as const

const CANONICAL_INDEX = /^(?:[0-9]|1[0-9]|2[0-3])$/
const HEX = /^[0-9a-fA-F]*$/

/**
 * The problems of one `{bank: {index: hex}}` value, each at its path. Checked
 * as a whole rather than through the Record's key schema: a Record drops keys
 * that fail its key schema instead of reporting them, which turned a typo
 * (`SHA256`) into an empty policy.
 */
const pcrValueIssues = (values: Readonly<Record<string, Readonly<Record<string, string>>>>) => {
  const issues: Array<{ path: ReadonlyArray<string>; message: string }> = []
  for (const [bank, entries] of Object.entries(values)) {
    const info = (BANK_ORDER as ReadonlyArray<string>).includes(bank) ? hashByName(bank) : undefined
    if (info === undefined) {
      issues.push({ path: [bank], message: `unknown PCR bank; one of ${BANK_ORDER.join(", ")} (lower case)` })
      continue
    }
    for (const [index, hex] of Object.entries(entries)) {
      if (!CANONICAL_INDEX.test(index)) {
        issues.push({ path: [bank, index], message: "PCR index must be 0 to 23, in decimal without leading zeros" })
      } else if (!HEX.test(hex) || hex.length !== info.size * 2) {
        issues.push({ path: [bank, index], message: `must be ${info.size * 2} hex digits (a ${info.size}-byte ${bank} value)` })
      }
    }
  }
  return issues
}

/** Bank → PCR index → hex value; every key and every value's length is checked (400 naming it). */
export const PcrValuesJson = Schema.Record({
  key: Schema.String,
  value: Schema.Record({ key: Schema.String, value: Schema.String })
}).pipe(
  Schema.filter(pcrValueIssues),
  Schema.annotations({
    identifier: "PcrValues",
    description: "`{bank: {index: hex}}`: banks sha1, sha256, sha384, sha512; indexes \"0\" to \"23\"; values of the bank's digest length"
  })
)
export type PcrValuesJson = typeof PcrValuesJson.Type

/** A policy must name at least one PCR, and no bank without PCRs: an empty policy would refuse every quote. */
export const PcrPolicyValues = PcrValuesJson.pipe(
  Schema.filter((values) => {
    const issues: Array<{ path: ReadonlyArray<string>; message: string }> = []
    const banks = Object.entries(values)
    if (banks.length === 0) return "a PCR policy must name at least one PCR, e.g. {\"sha256\": {\"7\": \"<64 hex digits>\"}}"
    for (const [bank, entries] of banks) {
      if (Object.keys(entries).length === 0) issues.push({ path: [bank], message: "names no PCR; leave the bank out" })
    }
    return issues
  })
)

export class PcrPolicy extends Schema.Class<PcrPolicy>("PcrPolicy")({
  /** The values every quote must show; the quote must cover these PCRs. */
  pcrs: PcrPolicyValues
}) {}

/**
 * A policy as stored (jsonb), not re-validated on read: policies saved before
 * the checks were tightened are still read, shown and applied.
 */
export const StoredPcrValues = Schema.Record({ key: Schema.String, value: Schema.Record({ key: Schema.String, value: Schema.String }) })

export class PcrPolicyView extends Schema.Class<PcrPolicyView>("PcrPolicyView")({
  /** `machine`, `default` (the global default) or `none`. */
  source: Schema.Literal("machine", "default", "none"),
  pcr_selection: Schema.NullOr(Schema.String),
  /** As stored: policies saved before the checks were tightened are shown, not refused. */
  pcrs: Schema.NullOr(StoredPcrValues)
}) {}

/** What a machine is asked to quote when no policy names PCRs yet (firmware, boot loader, Secure Boot). */
export const DEFAULT_PCR_SELECTION = "sha256:0,1,2,3,4,5,6,7"

export const selectionOf = (values: PcrValuesJson): string =>
  BANK_ORDER.filter((bank) => values[bank] !== undefined && Object.keys(values[bank]!).length > 0)
    .map((bank) => `${bank}:${Object.keys(values[bank]!).map(Number).sort((a, b) => a - b).join(",")}`)
    .join("+")

/** Checks every value's length against its bank; returns values as Buffers keyed by bank name. */
export const decodeValues = (values: PcrValuesJson, field: string): Record<string, Map<number, Buffer>> => {
  const out: Record<string, Map<number, Buffer>> = {}
  for (const [bank, entries] of Object.entries(values)) {
    const info = hashByName(bank)!
    const map = new Map<number, Buffer>()
    for (const [index, hex] of Object.entries(entries ?? {})) {
      const value = Buffer.from(hex, "hex")
      if (value.length !== info.size) throw new TpmParseError(`${field}.${bank}.${index}`, `must be ${info.size} bytes for ${bank}`)
      map.set(Number(index), value)
    }
    out[bank] = map
  }
  return out
}

/** Verified PCR values: bank name → PCR index → value, exactly the PCRs a signed quote covered. */
export type VerifiedPcrs = ReadonlyMap<string, ReadonlyMap<number, Buffer>>

/** The policy's PCRs (as `bank:index`) that the quote did not cover: their values are unknown, never a pass. */
export const uncoveredByQuote = (policy: PcrValuesJson, verified: VerifiedPcrs): Array<string> =>
  Object.entries(policy).flatMap(([bank, entries]) =>
    Object.keys(entries).filter((index) => !verified.get(bank)?.has(Number(index))).map((index) => `${bank}:${index}`)
  )

/** The policy's PCRs (as `bank:index`) whose verified value differs from the policy. */
export const policyMismatches = (policy: PcrValuesJson, verified: VerifiedPcrs): Array<string> =>
  Object.entries(policy).flatMap(([bank, entries]) =>
    Object.entries(entries)
      .filter(([index, expected]) => {
        const actual = verified.get(bank)?.get(Number(index))
        return actual === undefined || actual.toString("hex") !== expected.toLowerCase()
      })
      .map(([index]) => `${bank}:${index}`)
  )

/** Verified values as a policy (trust on first use records exactly what the quote covered). */
export const policyOf = (verified: VerifiedPcrs): PcrValuesJson => {
  const out: Record<string, Record<string, string>> = {}
  for (const bank of BANK_ORDER) {
    const values = verified.get(bank)
    if (values === undefined || values.size === 0) continue
    out[bank] = Object.fromEntries([...values].sort(([a], [b]) => a - b).map(([index, value]) => [String(index), value.toString("hex")]))
  }
  return out
}

export const parseSelection = (text: string): ReadonlyArray<PcrSelection> => parsePcrSelection(text)
