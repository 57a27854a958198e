/**
 * How a machine secret leaves the server.
 *
 * `tpm2-credential-v1`: a fresh 32-byte key is wrapped with TPM2_MakeCredential
 * to the machine's EK and the AK bound at enrollment; the value is AES-256-GCM
 * under that key. Only that TPM, with that AK loaded, recovers the key.
 *
 * `hkdf-ek-v1` (compatibility): key = HKDF-SHA256(ikm = the fingerprint's 32
 * digest bytes, salt "ITL.ControlPlane.Attestation.SecretVault.v1",
 * info "machine-secret-encryption"). The fingerprint is public, so this hides
 * the value from nobody who knows it; it exists for existing clients.
 */
import { Tpm } from "@itl-attestation/core/api"
import * as crypto from "node:crypto"
import { gcmSeal } from "./gcm.js"

export const HKDF_SALT = "ITL.ControlPlane.Attestation.SecretVault.v1"
export const HKDF_INFO = "machine-secret-encryption"

export const hkdfKeyForFingerprint = (fingerprint: string) =>
  Buffer.from(crypto.hkdfSync("sha256", Buffer.from(fingerprint.replace(/^sha256:/, ""), "hex"), HKDF_SALT, HKDF_INFO, 32))

export const sealForFingerprint = (fingerprint: string, value: Buffer) => {
  const key = hkdfKeyForFingerprint(fingerprint)
  const nonce = crypto.randomBytes(12)
  const cipher = crypto.createCipheriv("aes-256-gcm", key, nonce)
  const encrypted = Buffer.concat([cipher.update(value), cipher.final()])
  return { encrypted_value: encrypted.toString("base64"), nonce: nonce.toString("base64"), tag: cipher.getAuthTag().toString("base64") }
}

export const sealForTpm = (keys: { ekPublicArea: Buffer; akName: Buffer }, name: string, value: Buffer) => {
  const key = crypto.randomBytes(32)
  const ekPublic = Tpm.parseTpmtPublic(keys.ekPublicArea, "ek_public")
  const credential = Tpm.makeCredential({ ekPublic, objectName: keys.akName, secret: key })
  const sealed = gcmSeal(key, value, name)
  return {
    credential_blob: credential.credentialBlob.toString("base64"),
    encrypted_secret: credential.encryptedSecret.toString("base64"),
    credential_file: Tpm.toTpm2ToolsCredentialFile(credential).toString("base64"),
    ciphertext: sealed.ciphertext.toString("base64"),
    nonce: sealed.nonce.toString("base64"),
    tag: sealed.tag.toString("base64")
  }
}
