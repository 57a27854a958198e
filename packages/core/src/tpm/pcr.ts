import { createHash } from "node:crypto";
import { hashByName, hashInfo, hex16, requireHash } from "./algorithms.js";
import { TPM_LIMITS } from "./constants.js";
import { TpmParseError } from "./errors.js";
import type { TpmReader } from "./reader.js";

/** One TPMS_PCR_SELECTION: a bank and its selected PCR indexes (ascending). */
export interface PcrSelection {
  readonly hashAlg: number;
  readonly pcrs: readonly number[];
}

/** PCR index -> value for one bank. */
export type PcrBankValues = ReadonlyMap<number, Uint8Array> | Readonly<Record<number, Uint8Array>>;

/**
 * Bank -> PCR index -> value. Map keys are TPM_ALG ids; record keys may be the
 * id (as a string, e.g. "11") or the node hash name (e.g. "sha256").
 */
export type PcrValues = ReadonlyMap<number, PcrBankValues> | Readonly<Record<string, PcrBankValues>>;

/** Bitmap byte i, bit j (LSB first) selects PCR 8i+j. */
export function pcrsFromBitmap(bitmap: Uint8Array): number[] {
  const out: number[] = [];
  bitmap.forEach((byte, i) => {
    for (let j = 0; j < 8; j++) if ((byte >> j) & 1) out.push(i * 8 + j);
  });
  return out;
}

/**
 * Reads a big-endian TPML_PCR_SELECTION. Duplicate banks are rejected because
 * they would make "the value of PCR n in bank b" ambiguous.
 */
export function readPcrSelectionList(r: TpmReader, field: string): PcrSelection[] {
  const count = r.u32(`${field}.count`);
  if (count > TPM_LIMITS.maxPcrBanks) {
    throw new TpmParseError(`${field}.count`, `${count} banks exceeds maximum ${TPM_LIMITS.maxPcrBanks}`);
  }
  const out: PcrSelection[] = [];
  for (let i = 0; i < count; i++) {
    const f = `${field}[${i}]`;
    const hashAlg = r.u16(`${f}.hash`);
    requireHash(hashAlg, `${f}.hash`);
    const sizeofSelect = r.u8(`${f}.sizeofSelect`);
    if (sizeofSelect > TPM_LIMITS.maxPcrSelectBytes) {
      throw new TpmParseError(`${f}.sizeofSelect`, `${sizeofSelect} exceeds maximum ${TPM_LIMITS.maxPcrSelectBytes}`);
    }
    const bitmap = r.bytes(sizeofSelect, `${f}.pcrSelect`);
    if (out.some((s) => s.hashAlg === hashAlg)) throw new TpmParseError(`${f}.hash`, "duplicate PCR bank");
    out.push({ hashAlg, pcrs: pcrsFromBitmap(bitmap) });
  }
  return out;
}

function bankLookup(values: PcrValues, hashAlg: number): PcrBankValues | undefined {
  if (values instanceof Map) return values.get(hashAlg);
  if (typeof values !== "object" || values === null) return undefined;
  const rec = values as Readonly<Record<string, PcrBankValues>>;
  return rec[String(hashAlg)] ?? rec[hashInfo(hashAlg)?.name ?? ""];
}

/** Values may come straight from decoded JSON, so anything that is not bytes counts as missing. */
function valueLookup(bank: PcrBankValues, index: number): Uint8Array | undefined {
  let v: unknown;
  if (bank instanceof Map) v = bank.get(index);
  else if (typeof bank === "object" && bank !== null) v = (bank as Readonly<Record<number, unknown>>)[index];
  return v instanceof Uint8Array ? v : undefined;
}

/**
 * TPM2_Quote's pcrDigest: H_digestAlg over the selected values, banks in
 * selection order and PCRs ascending within a bank. `digestAlg` is the quote's
 * signing hash, not the bank hash (SHA-1 bank values are still 20 bytes each).
 * Missing or wrong-length values are client input errors.
 */
export function computePcrDigest(
  selection: readonly PcrSelection[],
  values: PcrValues,
  digestAlg: number,
  label = "pcr_values",
): Buffer {
  const h = requireHash(digestAlg, `${label}.digestAlg`);
  const hash = createHash(h.name);
  for (const sel of selection) {
    const bankHash = requireHash(sel.hashAlg, `${label}.bank`);
    const bank = bankLookup(values, sel.hashAlg);
    for (const pcr of [...sel.pcrs].sort((a, b) => a - b)) {
      const field = `${label}.${bankHash.name}[${pcr}]`;
      const v = bank === undefined ? undefined : valueLookup(bank, pcr);
      if (v === undefined) throw new TpmParseError(field, "value missing or not bytes");
      if (v.length !== bankHash.size) {
        throw new TpmParseError(field, `value is ${v.length} bytes, expected ${bankHash.size}`);
      }
      hash.update(v);
    }
  }
  return hash.digest();
}

function normalize(sel: readonly PcrSelection[]): string {
  return sel
    .filter((s) => s.pcrs.length > 0)
    .map((s) => `${s.hashAlg}:${[...new Set(s.pcrs)].sort((a, b) => a - b).join(",")}`)
    .sort()
    .join("+");
}

/** Same banks with the same PCRs, ignoring order and empty banks (neither affects what was measured). */
export function pcrSelectionEquals(a: readonly PcrSelection[], b: readonly PcrSelection[]): boolean {
  return normalize(a) === normalize(b);
}

/** tpm2-tools `-l` syntax, e.g. "sha256:0,1,2,3,7+sha1:0". */
export function formatPcrSelection(sel: readonly PcrSelection[]): string {
  return sel
    .map((s) => {
      const h = hashInfo(s.hashAlg);
      return `${h?.name ?? `0x${hex16(s.hashAlg)}`}:${[...s.pcrs].sort((x, y) => x - y).join(",")}`;
    })
    .join("+");
}

/** Parses the tpm2-tools `-l` syntax ("sha256:0,1,7+sha1:0"); PCR indexes are 0..(8*maxPcrSelectBytes-1). */
export function parsePcrSelection(text: string, label = "pcr_selection"): PcrSelection[] {
  if (typeof text !== "string" || text.length === 0 || text.length > 1024) {
    throw new TpmParseError(label, "expected a non-empty selection string");
  }
  const out: PcrSelection[] = [];
  for (const part of text.split("+")) {
    const m = /^([a-z0-9]+):(\d{1,2}(?:,\d{1,2})*)$/.exec(part);
    if (m === null) throw new TpmParseError(label, `cannot parse "${part}"`);
    const h = hashByName(m[1] ?? "");
    if (h === undefined) throw new TpmParseError(label, `unsupported bank "${m[1] ?? ""}"`);
    if (out.some((s) => s.hashAlg === h.alg)) throw new TpmParseError(label, `duplicate bank ${h.name}`);
    const pcrs = (m[2] ?? "").split(",").map(Number);
    const max = TPM_LIMITS.maxPcrSelectBytes * 8;
    if (pcrs.some((p) => p >= max)) throw new TpmParseError(label, `PCR index out of range in "${part}"`);
    out.push({ hashAlg: h.alg, pcrs: [...new Set(pcrs)].sort((a, b) => a - b) });
  }
  return out;
}
