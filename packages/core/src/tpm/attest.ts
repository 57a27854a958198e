import { TPM_GENERATED_VALUE, TPM_LIMITS, TPM_ST } from "./constants.js";
import { TpmParseError } from "./errors.js";
import { readPcrSelectionList, type PcrSelection } from "./pcr.js";
import { TpmReader } from "./reader.js";

export interface ClockInfo {
  /** Milliseconds; bigint because UINT64 exceeds Number precision. */
  readonly clock: bigint;
  readonly resetCount: number;
  readonly restartCount: number;
  readonly safe: boolean;
}

/**
 * TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE. resetCount, restartCount and
 * firmwareVersion are obfuscated by the TPM for keys outside the endorsement
 * and platform hierarchies: do not rely on them unless the AK is under the EK.
 */
export interface TpmsAttestQuote {
  readonly magic: number;
  readonly type: number;
  /** Qualified Name of the signing key (not its plain Name). */
  readonly qualifiedSigner: Buffer;
  /** The caller's nonce (`tpm2_quote -q`). */
  readonly extraData: Buffer;
  readonly clockInfo: ClockInfo;
  readonly firmwareVersion: bigint;
  readonly pcrSelect: PcrSelection[];
  readonly pcrDigest: Buffer;
}

/**
 * Parses the signed quote message (`tpm2_quote -m`). Only quotes are accepted:
 * other attestation types signed by the same AK must never be mistaken for one.
 */
export function parseAttest(buf: Uint8Array, label = "quote"): TpmsAttestQuote {
  const r = new TpmReader(buf, label);
  const magic = r.u32(`${label}.magic`);
  if (magic !== TPM_GENERATED_VALUE) {
    throw new TpmParseError(`${label}.magic`, `expected 0xff544347, got 0x${magic.toString(16).padStart(8, "0")}`);
  }
  const type = r.u16(`${label}.type`);
  if (type !== TPM_ST.ATTEST_QUOTE) {
    throw new TpmParseError(`${label}.type`, `expected ATTEST_QUOTE 0x8018, got 0x${type.toString(16)}`);
  }
  const qualifiedSigner = r.tpm2b(`${label}.qualifiedSigner`, TPM_LIMITS.maxName);
  const extraData = r.tpm2b(`${label}.extraData`, TPM_LIMITS.maxData);
  const clock = r.u64(`${label}.clockInfo.clock`);
  const resetCount = r.u32(`${label}.clockInfo.resetCount`);
  const restartCount = r.u32(`${label}.clockInfo.restartCount`);
  const safeByte = r.u8(`${label}.clockInfo.safe`);
  if (safeByte > 1) throw new TpmParseError(`${label}.clockInfo.safe`, `invalid TPMI_YES_NO ${safeByte}`);
  const firmwareVersion = r.u64(`${label}.firmwareVersion`);
  const pcrSelect = readPcrSelectionList(r, `${label}.pcrSelect`);
  const pcrDigest = r.tpm2b(`${label}.pcrDigest`, TPM_LIMITS.maxDigest);
  r.expectEnd(label);
  return {
    magic,
    type,
    qualifiedSigner,
    extraData,
    clockInfo: { clock, resetCount, restartCount, safe: safeByte === 1 },
    firmwareVersion,
    pcrSelect,
    pcrDigest,
  };
}
