/**
 * PCR values as they travel in JSON — `{ "sha256": { "0": "<hex>", … } }` —
 * and the policy rules: which PCRs a quote must cover and what they must hold.
 */
import { Schema } from "effect"
import { hashByName } from "../tpm/algorithms.js"
import { TpmParseError } from "../tpm/errors.js"
import { parsePcrSelection, type PcrSelection } from "../tpm/pcr.js"

const BANK_ORDER = ["sha1", "sha256", "sha384", "sha512"] as const

export const PcrBankName = Schema.Literal(...BANK_ORDER)
export const PcrIndex = Schema.String.pipe(
  Schema.pattern(/^(?:[0-9]|1[0-9]|2[0-3])$/, { message: () => "PCR index must be 0 to 23" })
)
export const HexDigest = Schema.String.pipe(
  Schema.pattern(/^(?:[0-9a-fA-F]{2}){20,64}$/, { message: () => "must be a hex digest" })
)

/** Bank → PCR index → hex value. */
export const PcrValuesJson = Schema.Record({
  // A refined string rather than the literal union: with literal keys every bank would be required.
  key: Schema.String.pipe(
    Schema.filter((bank) => (BANK_ORDER as ReadonlyArray<string>).includes(bank), {
      message: () => `PCR bank must be one of ${BANK_ORDER.join(", ")}`
    })
  ),
  value: Schema.Record({ key: PcrIndex, value: HexDigest })
})
export type PcrValuesJson = typeof PcrValuesJson.Type

export class PcrPolicy extends Schema.Class<PcrPolicy>("PcrPolicy")({
  /** The values every quote must show; the quote must cover exactly these PCRs. */
  pcrs: PcrValuesJson
}) {}

export class PcrPolicyView extends Schema.Class<PcrPolicyView>("PcrPolicyView")({
  /** `machine`, `default` (the global default) or `none`. */
  source: Schema.Literal("machine", "default", "none"),
  pcr_selection: Schema.NullOr(Schema.String),
  pcrs: Schema.NullOr(PcrValuesJson)
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

/** The PCRs (as `bank:index`) whose supplied value differs from the policy, or that were not supplied. */
export const policyMismatches = (policy: PcrValuesJson, supplied: PcrValuesJson): Array<string> => {
  const mismatches: Array<string> = []
  for (const [bank, entries] of Object.entries(policy)) {
    for (const [index, expected] of Object.entries(entries ?? {})) {
      const actual = supplied[bank]?.[index]
      if (actual === undefined || actual.toLowerCase() !== expected.toLowerCase()) mismatches.push(`${bank}:${index}`)
    }
  }
  return mismatches
}

export const parseSelection = (text: string): ReadonlyArray<PcrSelection> => parsePcrSelection(text)
