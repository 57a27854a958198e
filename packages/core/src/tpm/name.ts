import { createHash } from "node:crypto";
import { hashInfo, hex16 } from "./algorithms.js";
import { TPM_RH } from "./constants.js";
import type { TpmPublic } from "./public.js";

/**
 * Name = nameAlg (UINT16 BE) || H_nameAlg(TPMT_PUBLIC).
 * `publicArea` must be the bytes as received: re-encoding (e.g. exponent 65537
 * instead of 0) would produce a different, useless name.
 */
export function objectName(publicArea: Uint8Array, nameAlg: number): Buffer {
  const h = hashInfo(nameAlg);
  if (h === undefined) throw new RangeError(`unsupported nameAlg 0x${hex16(nameAlg)}`);
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(nameAlg);
  return Buffer.concat([prefix, createHash(h.name).update(publicArea).digest()]);
}

export function nameOfPublic(p: TpmPublic): Buffer {
  return objectName(p.publicArea, p.nameAlg);
}

/** A hierarchy's qualified name is just its 4-byte handle. */
export function hierarchyQualifiedName(handle: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(handle >>> 0);
  return b;
}

/**
 * QN(obj) = nameAlg || H_nameAlg(QN(parent) || Name(obj)). The nameAlg is the
 * object's own, which its Name already carries in its first two bytes.
 */
export function qualifiedName(parentQualifiedName: Uint8Array, name: Uint8Array): Buffer {
  if (name.length < 2) throw new RangeError("name too short");
  const alg = (name[0]! << 8) | name[1]!;
  const h = hashInfo(alg);
  if (h === undefined || name.length !== 2 + h.size) {
    throw new RangeError(`name does not look like a ${h?.name ?? `0x${hex16(alg)}`} name`);
  }
  const digest = createHash(h.name).update(parentQualifiedName).update(name).digest();
  return Buffer.concat([Buffer.from(name.subarray(0, 2)), digest]);
}

/**
 * The qualifiedSigner a quote carries for an AK that is a child of a primary
 * EK: QN(AK) = QN(EK under TPM_RH_ENDORSEMENT) chained with Name(AK).
 */
export function akQualifiedNameUnderEk(ekName: Uint8Array, akName: Uint8Array): Buffer {
  const ekQn = qualifiedName(hierarchyQualifiedName(TPM_RH.ENDORSEMENT), ekName);
  return qualifiedName(ekQn, akName);
}
