/**
 * Fresh EK stand-ins for registration: EC P-256 public keys as PEM
 * SubjectPublicKeyInfo, generated before measuring (about 0.15 ms each; a
 * 2048-bit RSA key takes about 150 ms, far too slow to make per request).
 */
import * as crypto from "node:crypto"

export const generateEkPems = (count) => {
  const pems = new Array(count)
  for (let i = 0; i < count; i++) {
    pems[i] = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" })
  }
  return pems
}
