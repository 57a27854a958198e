export { TpmParseError } from "./errors.js";
export { TpmReader } from "./reader.js";
export {
  TPM_ALG,
  TPM_ECC,
  TPMA_OBJECT,
  TPM_GENERATED_VALUE,
  TPM_ST,
  TPM_RH,
  TPM2_TOOLS_FILE_MAGIC,
  TPM2_TOOLS_CREDENTIAL_VERSION,
  TPM_LIMITS,
} from "./constants.js";
export { hashInfo, hashByName, curveInfo, type HashInfo, type CurveInfo } from "./algorithms.js";
export {
  parseTpm2bPublic,
  parseTpmtPublic,
  publicKeyFromTpmPublic,
  spkiDerFromTpmPublic,
  jwkFromTpmPublic,
  rsaPublicExponent,
  type TpmPublic,
  type TpmRsaPublic,
  type TpmEccPublic,
  type RsaParameters,
  type EccParameters,
  type SymmetricDef,
  type SchemeDef,
} from "./public.js";
export { objectName, nameOfPublic, qualifiedName, hierarchyQualifiedName, akQualifiedNameUnderEk } from "./name.js";
export { checkAkAttributes, checkAkPublic, checkEkPublic, ekLooksLikeEk, describeObjectAttributes } from "./attributes.js";
export { kdfa, kdfe } from "./kdf.js";
export {
  makeCredential,
  toTpm2ToolsCredentialFile,
  parseTpm2ToolsCredentialFile,
  type MakeCredentialInput,
  type MakeCredentialResult,
} from "./makeCredential.js";
export { parseAttest, type TpmsAttestQuote, type ClockInfo } from "./attest.js";
export {
  parseSignature,
  verifyQuoteSignature,
  type TpmSignature,
  type TpmRsaSignature,
  type TpmEcdsaSignature,
} from "./signature.js";
export {
  computePcrDigest,
  pcrSelectionEquals,
  formatPcrSelection,
  parsePcrSelection,
  pcrsFromBitmap,
  type PcrSelection,
  type PcrValues,
  type PcrBankValues,
} from "./pcr.js";
export { parsePcrFileSerialized, parsePcrFileValues, type ParsedPcrValues } from "./pcrFile.js";
