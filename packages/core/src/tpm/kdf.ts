import { createHash, createHmac } from "node:crypto";
import { hex16, hashInfo, type HashInfo } from "./algorithms.js";

function hashOrThrow(alg: number): HashInfo {
  const h = hashInfo(alg);
  if (h === undefined) throw new RangeError(`unsupported KDF hash 0x${hex16(alg)}`);
  return h;
}

function u32be(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

/** TPM labels are NUL-terminated strings and the NUL is hashed; forgetting it breaks interop. */
function labelBytes(label: string): Buffer {
  return Buffer.concat([Buffer.from(label, "ascii"), Buffer.from([0])]);
}

/**
 * KDFa (TPM 2.0 Part 1, SP 800-108 counter mode with HMAC):
 * K_i = HMAC(key, [i]32 || label || 0x00 || contextU || contextV || [bits]32).
 * `label` is given without its terminating NUL.
 */
export function kdfa(
  hashAlg: number,
  key: Uint8Array,
  label: string,
  contextU: Uint8Array,
  contextV: Uint8Array,
  bits: number,
): Buffer {
  const h = hashOrThrow(hashAlg);
  const outLen = Math.ceil(bits / 8);
  const fixed = Buffer.concat([labelBytes(label), contextU, contextV, u32be(bits)]);
  const blocks: Buffer[] = [];
  for (let i = 1, have = 0; have < outLen; i++) {
    const k = createHmac(h.name, key).update(u32be(i)).update(fixed).digest();
    blocks.push(k);
    have += k.length;
  }
  return Buffer.concat(blocks).subarray(0, outLen);
}

/**
 * KDFe (TPM 2.0 Part 1, SP 800-56A concatenation KDF):
 * K_i = H([i]32 || Z || use || 0x00 || partyU || partyV).
 * `use` is given without its terminating NUL.
 */
export function kdfe(
  hashAlg: number,
  z: Uint8Array,
  use: string,
  partyU: Uint8Array,
  partyV: Uint8Array,
  bits: number,
): Buffer {
  const h = hashOrThrow(hashAlg);
  const outLen = Math.ceil(bits / 8);
  const blocks: Buffer[] = [];
  for (let i = 1, have = 0; have < outLen; i++) {
    const k = createHash(h.name).update(u32be(i)).update(z).update(labelBytes(use)).update(partyU).update(partyV).digest();
    blocks.push(k);
    have += k.length;
  }
  return Buffer.concat(blocks).subarray(0, outLen);
}
