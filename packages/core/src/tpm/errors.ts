/**
 * The single error type thrown for malformed, truncated or unsupported TPM
 * structures. Every byte-level parser in this folder throws only this, so an
 * HTTP layer can map it to 400 without catching unrelated programming errors.
 */
export class TpmParseError extends Error {
  /** Dotted path of the structure/field that was rejected, e.g. "ek_public.unique". */
  readonly field: string;

  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "TpmParseError";
    this.field = field;
  }
}
