/**
 * Builds the TPM2B_PUBLIC bytes of an RSA-2048 storage-style EK from a Node key,
 * as `tpm2_createek -u` would write them, for registration tests that do not
 * need a running TPM.
 */
import * as crypto from "node:crypto"

export const rsaTpm2bPublic = (publicKey: crypto.KeyObject): Buffer => {
  const jwk = publicKey.export({ format: "jwk" })
  const modulus = Buffer.from(jwk.n!, "base64url")
  const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff])
  const u32 = (n: number) => Buffer.from([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])
  const tpmt = Buffer.concat([
    u16(0x0001), // TPM_ALG_RSA
    u16(0x000b), // nameAlg SHA-256
    u32(0x000300b2), // fixedTPM|fixedParent|sensitiveDataOrigin|adminWithPolicy|restricted|decrypt
    u16(0), // empty authPolicy
    u16(0x0006), u16(128), u16(0x0043), // AES-128-CFB
    u16(0x0010), // scheme NULL
    u16(2048),
    u32(0), // exponent 0 = 65537
    u16(modulus.length),
    modulus
  ])
  return Buffer.concat([u16(tpmt.length), tpmt])
}

export const rsaKeyPair = () => crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
