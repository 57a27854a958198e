import { TpmParseError } from "./errors.js";

/**
 * Bounds-checked big-endian cursor over a byte buffer.
 *
 * Every read names the field it is reading so that a short buffer produces a
 * TpmParseError pointing at the exact field, instead of a RangeError from Buffer.
 * Returned byte slices are copies: parsed structures must not alias (and thus
 * silently change with) a caller's request buffer.
 */
export class TpmReader {
  private readonly buf: Buffer;
  private pos = 0;

  constructor(input: Uint8Array, label: string) {
    // Parsers are fed request data; a non-bytes value must still surface as a parse error.
    if (!(input instanceof Uint8Array)) {
      throw new TpmParseError(label, "expected a byte buffer");
    }
    this.buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, field: string): void {
    if (n > this.remaining) {
      throw new TpmParseError(field, `truncated: need ${n} byte(s) at offset ${this.pos}, have ${this.remaining}`);
    }
  }

  u8(field: string): number {
    this.need(1, field);
    const v = this.buf.readUInt8(this.pos);
    this.pos += 1;
    return v;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(field: string): bigint {
    this.need(8, field);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Little-endian reads exist only for tpm2-tools' raw C-struct files (tpm2_quote -o). */
  u16le(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u32le(field: string): number {
    this.need(4, field);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  skip(n: number, field: string): void {
    this.need(n, field);
    this.pos += n;
  }

  bytes(n: number, field: string): Buffer {
    this.need(n, field);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /** TPM2B_xxx: UINT16 size then that many bytes; `max` enforces the structure's own limit. */
  tpm2b(field: string, max?: number): Buffer {
    const size = this.u16(`${field}.size`);
    if (max !== undefined && size > max) {
      throw new TpmParseError(field, `size ${size} exceeds maximum ${max}`);
    }
    if (size > this.remaining) {
      throw new TpmParseError(field, `size field ${size} larger than the ${this.remaining} byte(s) left`);
    }
    return this.bytes(size, field);
  }

  /** Structures on the wire are exact; leftover bytes mean the input is not what it claims to be. */
  expectEnd(field: string): void {
    if (this.remaining !== 0) {
      throw new TpmParseError(field, `${this.remaining} unexpected trailing byte(s) at offset ${this.pos}`);
    }
  }
}
