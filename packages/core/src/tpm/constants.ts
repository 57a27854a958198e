/** TPM_ALG_ID values (TPM 2.0 Part 2, table "TPM_ALG_ID Constants"). */
export const TPM_ALG = {
  RSA: 0x0001,
  SHA1: 0x0004,
  HMAC: 0x0005,
  AES: 0x0006,
  MGF1: 0x0007,
  KEYEDHASH: 0x0008,
  XOR: 0x000a,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  NULL: 0x0010,
  SM3_256: 0x0012,
  SM4: 0x0013,
  RSASSA: 0x0014,
  RSAES: 0x0015,
  RSAPSS: 0x0016,
  OAEP: 0x0017,
  ECDSA: 0x0018,
  ECDH: 0x0019,
  ECDAA: 0x001a,
  SM2: 0x001b,
  ECSCHNORR: 0x001c,
  ECMQV: 0x001d,
  KDF1_SP800_56A: 0x0020,
  KDF2: 0x0021,
  KDF1_SP800_108: 0x0022,
  ECC: 0x0023,
  SYMCIPHER: 0x0025,
  CAMELLIA: 0x0026,
  CTR: 0x0040,
  OFB: 0x0041,
  CBC: 0x0042,
  CFB: 0x0043,
  ECB: 0x0044,
} as const;

/** TPM_ECC_CURVE values. */
export const TPM_ECC = {
  NIST_P192: 0x0001,
  NIST_P224: 0x0002,
  NIST_P256: 0x0003,
  NIST_P384: 0x0004,
  NIST_P521: 0x0005,
} as const;

/** TPMA_OBJECT bit masks. */
export const TPMA_OBJECT = {
  fixedTPM: 0x00000002,
  stClear: 0x00000004,
  fixedParent: 0x00000010,
  sensitiveDataOrigin: 0x00000020,
  userWithAuth: 0x00000040,
  adminWithPolicy: 0x00000080,
  noDA: 0x00000400,
  encryptedDuplication: 0x00000800,
  restricted: 0x00010000,
  decrypt: 0x00020000,
  /** Same bit is "encrypt" for symmetric keys. */
  sign: 0x00040000,
} as const;

/** TPMS_ATTEST.magic: proves the structure was produced inside a TPM. */
export const TPM_GENERATED_VALUE = 0xff544347;

/** TPMI_ST_ATTEST values. */
export const TPM_ST = {
  ATTEST_CERTIFY: 0x8017,
  ATTEST_QUOTE: 0x8018,
} as const;

/** Permanent hierarchy handles, used as the root of qualified names. */
export const TPM_RH = {
  OWNER: 0x40000001,
  ENDORSEMENT: 0x4000000b,
  PLATFORM: 0x4000000c,
  NULL: 0x40000007,
} as const;

/** Header of tpm2-tools' own file formats (lib/files.c). */
export const TPM2_TOOLS_FILE_MAGIC = 0xbadcc0de;
export const TPM2_TOOLS_CREDENTIAL_VERSION = 1;

/** Size limits from Part 2 that bound parsing of untrusted input. */
export const TPM_LIMITS = {
  /** TPMU_HA: largest digest (SHA-512). */
  maxDigest: 64,
  /** TPML_PCR_SELECTION holds at most HASH_COUNT banks. */
  maxPcrBanks: 16,
  /** Generous upper bound on sizeofSelect (real TPMs use 3 for 24 PCRs). */
  maxPcrSelectBytes: 8,
  /** TPM2B_DATA is sized to hold a TPMT_HA (2-byte alg + SHA-512 digest). */
  maxData: 66,
  /** TPM2B_NAME: TPMU_NAME is at most a TPMT_HA. */
  maxName: 66,
  /** Largest RSA key we accept, keeps modulus/exponent sane. */
  maxRsaKeyBits: 16384,
  minRsaKeyBits: 1024,
} as const;
