import { requireHash } from "./algorithms.js";
import { TPM_LIMITS } from "./constants.js";
import { TpmParseError } from "./errors.js";
import { pcrsFromBitmap, type PcrSelection } from "./pcr.js";
import { TpmReader } from "./reader.js";

/** Values parsed from a PCR file: bank hashAlg -> PCR index -> value. */
export type ParsedPcrValues = Map<number, Map<number, Buffer>>;

/* Layout of tss2's C structs as dumped by `tpm2_quote -o` (lib/pcr.c), little-endian with padding. */
const SELECTION_SLOTS = 16;
const SELECTION_SLOT_SIZE = 8; // hash u16, sizeofSelect u8, pcrSelect[4], pad
const SELECTION_SLOT_BITMAP = 4;
const DIGESTS_PER_BLOCK = 8;
const DIGEST_SLOT_SIZE = 2 + 64;
const DIGEST_BLOCK_SIZE = 4 + DIGESTS_PER_BLOCK * DIGEST_SLOT_SIZE; // 532

function totalPcrs(selection: readonly PcrSelection[]): number {
  return selection.reduce((n, s) => n + s.pcrs.length, 0);
}

/** Walk selection in quote-digest order (bank order, ascending PCR) assigning values. */
function assign(
  selection: readonly PcrSelection[],
  digests: readonly Buffer[],
  label: string,
): ParsedPcrValues {
  const out: ParsedPcrValues = new Map();
  let k = 0;
  for (const sel of selection) {
    const h = requireHash(sel.hashAlg, `${label}.bank`);
    const bank = new Map<number, Buffer>();
    for (const pcr of [...sel.pcrs].sort((a, b) => a - b)) {
      const d = digests[k++];
      if (d === undefined) throw new TpmParseError(`${label}.digests`, "fewer digests than selected PCRs");
      if (d.length !== h.size) {
        throw new TpmParseError(`${label}.${h.name}[${pcr}]`, `value is ${d.length} bytes, expected ${h.size}`);
      }
      bank.set(pcr, d);
    }
    out.set(sel.hashAlg, bank);
  }
  if (k !== digests.length) throw new TpmParseError(`${label}.digests`, "more digests than selected PCRs");
  return out;
}

/**
 * `tpm2_quote -o` default (`-F serialized`) format: TPML_PCR_SELECTION (16
 * fixed slots), a UINT32 block count, then TPML_DIGEST blocks of up to 8
 * digests (one per PCR_Read), all little-endian. Returns the file's own
 * selection, which the caller should compare with the quote's.
 */
export function parsePcrFileSerialized(
  buf: Uint8Array,
  label = "pcrs",
): { selection: PcrSelection[]; values: ParsedPcrValues } {
  const r = new TpmReader(buf, label);
  const count = r.u32le(`${label}.pcrSelect.count`);
  if (count > SELECTION_SLOTS) {
    throw new TpmParseError(`${label}.pcrSelect.count`, `${count} banks exceeds ${SELECTION_SLOTS}`);
  }
  const selection: PcrSelection[] = [];
  for (let i = 0; i < SELECTION_SLOTS; i++) {
    const f = `${label}.pcrSelect[${i}]`;
    if (i >= count) {
      r.skip(SELECTION_SLOT_SIZE, f);
      continue;
    }
    const hashAlg = r.u16le(`${f}.hash`);
    requireHash(hashAlg, `${f}.hash`);
    const sizeofSelect = r.u8(`${f}.sizeofSelect`);
    if (sizeofSelect > SELECTION_SLOT_BITMAP) {
      throw new TpmParseError(`${f}.sizeofSelect`, `${sizeofSelect} exceeds ${SELECTION_SLOT_BITMAP}`);
    }
    const bitmap = r.bytes(SELECTION_SLOT_BITMAP, `${f}.pcrSelect`).subarray(0, sizeofSelect);
    r.skip(1, `${f}.pad`);
    if (selection.some((s) => s.hashAlg === hashAlg)) throw new TpmParseError(`${f}.hash`, "duplicate PCR bank");
    selection.push({ hashAlg, pcrs: pcrsFromBitmap(bitmap) });
  }

  const blocks = r.u32le(`${label}.digestBlocks`);
  // Check the size up front so a huge block count cannot drive a long loop.
  if (blocks * DIGEST_BLOCK_SIZE !== r.remaining) {
    throw new TpmParseError(
      `${label}.digestBlocks`,
      `${blocks} block(s) need ${blocks * DIGEST_BLOCK_SIZE} bytes, have ${r.remaining}`,
    );
  }
  const digests: Buffer[] = [];
  for (let b = 0; b < blocks; b++) {
    const f = `${label}.digests[${b}]`;
    const n = r.u32le(`${f}.count`);
    if (n > DIGESTS_PER_BLOCK) throw new TpmParseError(`${f}.count`, `${n} exceeds ${DIGESTS_PER_BLOCK}`);
    for (let i = 0; i < DIGESTS_PER_BLOCK; i++) {
      const size = r.u16le(`${f}[${i}].size`);
      const slot = r.bytes(DIGEST_SLOT_SIZE - 2, `${f}[${i}].buffer`);
      if (i >= n) continue;
      if (size > TPM_LIMITS.maxDigest) throw new TpmParseError(`${f}[${i}].size`, `${size} exceeds 64`);
      digests.push(slot.subarray(0, size));
    }
  }
  r.expectEnd(label);
  if (digests.length !== totalPcrs(selection)) {
    throw new TpmParseError(`${label}.digests`, `${digests.length} digests for ${totalPcrs(selection)} selected PCRs`);
  }
  return { selection, values: assign(selection, digests, label) };
}

/**
 * `-F values` format (also `tpm2_pcrread -o`): bare concatenated values in
 * quote-digest order. The file has no structure of its own, so the selection
 * (normally the quote's pcrSelect) says how to split it.
 */
export function parsePcrFileValues(
  buf: Uint8Array,
  selection: readonly PcrSelection[],
  label = "pcrs",
): ParsedPcrValues {
  const r = new TpmReader(buf, label);
  const digests: Buffer[] = [];
  for (const sel of selection) {
    const h = requireHash(sel.hashAlg, `${label}.bank`);
    for (const pcr of [...sel.pcrs].sort((a, b) => a - b)) digests.push(r.bytes(h.size, `${label}.${h.name}[${pcr}]`));
  }
  r.expectEnd(label);
  return assign(selection, digests, label);
}
