/**
 * AES-256-GCM with a random 96-bit nonce, as secret_vault seals values at
 * rest and in delivery. Apart from the keyring so that the CLI module, which
 * opens deliveries, does not load the server side.
 */
import * as crypto from "node:crypto"

export const gcmSeal = (key: Buffer, plaintext: Buffer, aad: string) => {
  const nonce = crypto.randomBytes(12)
  const cipher = crypto.createCipheriv("aes-256-gcm", key, nonce)
  cipher.setAAD(Buffer.from(aad))
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return { nonce, ciphertext, tag: cipher.getAuthTag() }
}

export const gcmOpen = (key: Buffer, sealed: { nonce: Buffer; ciphertext: Buffer; tag: Buffer }, aad: string | undefined) => {
  try {
    const decipher = crypto.createDecipheriv("aes-256-gcm", key, sealed.nonce)
    if (aad !== undefined) decipher.setAAD(Buffer.from(aad))
    decipher.setAuthTag(sealed.tag)
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()])
  } catch {
    return undefined
  }
}
