/**
 * A TPM in software, for the throughput bench: an RSA-2048 EK in the TCG
 * template shape, an ECC P-256 restricted signing AK (the attributes and
 * ECDSA-SHA256 scheme tpm2_createak uses), TPM2_ActivateCredential, and
 * quotes (TPMS_ATTEST + TPMT_SIGNATURE) over fixed PCR values. The byte
 * formats are the TPM's; the server cannot tell these from a real TPM's.
 * Ported from packages/core/test/tpm/helpers.ts (softwareEk, softwareActivate,
 * softwareEccAk) and bench/quotes.js, using core's exported TPM functions.
 */
import { Tpm } from "@itl-attestation/core"
import * as crypto from "node:crypto"

const SHA256 = 0x000b
const u16 = (n) => Buffer.from([n >> 8, n & 0xff])
const u32 = (n) => Buffer.from([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])
const tpm2b = (b) => Buffer.concat([u16(b.length), b])
const b64url = (s) => Buffer.from(s, "base64url")

const EK_POLICY_SHA256 = Buffer.from("837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa", "hex")

/** TCG L-1 RSA-2048 EK: TPMT_PUBLIC area, the TPM2B_PUBLIC the agent sends, and the private key. */
const softwareRsaEk = () => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
  const n = b64url(publicKey.export({ format: "jwk" }).n)
  const area = Buffer.concat([
    u16(0x0001), u16(SHA256), u32(0x000300b2), tpm2b(EK_POLICY_SHA256),
    Buffer.from("000600800043", "hex"), u16(0x0010), u16(2048), u32(0), tpm2b(n)
  ])
  return { area, tpm2b: tpm2b(area), privateKey, parsed: Tpm.parseTpm2bPublic(tpm2b(area)) }
}

/** ECC P-256 AK, restricted sign, ECDSA-SHA256. */
const softwareEccAk = () => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
  const jwk = publicKey.export({ format: "jwk" })
  const area = Buffer.concat([Buffer.from("0023000b00050072000000100018000b00030010", "hex"), tpm2b(b64url(jwk.x)), tpm2b(b64url(jwk.y))])
  return { area, tpm2b: tpm2b(area), privateKey }
}

/** TPM2_ActivateCredential with an RSA EK: the secret inside a credential made for (EK, akName). */
const activate = (ek, akName, credentialFile) => {
  const cred = Tpm.parseTpm2ToolsCredentialFile(credentialFile)
  const h = Tpm.hashInfo(ek.parsed.nameAlg)
  const seed = crypto.privateDecrypt(
    { key: ek.privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: h.name, oaepLabel: Buffer.from("IDENTITY\0", "ascii") },
    cred.encryptedSecret.subarray(2)
  )
  const idObject = cred.credentialBlob.subarray(2)
  const hmacLen = idObject.readUInt16BE(0)
  const integrity = idObject.subarray(2, 2 + hmacLen)
  const encIdentity = idObject.subarray(2 + hmacLen)
  const hmacKey = Tpm.kdfa(ek.parsed.nameAlg, seed, "INTEGRITY", Buffer.alloc(0), Buffer.alloc(0), h.size * 8)
  const expected = crypto.createHmac(h.name, hmacKey).update(encIdentity).update(akName).digest()
  if (!expected.equals(integrity)) throw new Error("activate: integrity check failed")
  const bits = ek.parsed.parameters.symmetric.keyBits
  const symKey = Tpm.kdfa(ek.parsed.nameAlg, seed, "STORAGE", akName, Buffer.alloc(0), bits)
  const decipher = crypto.createDecipheriv(`aes-${bits}-cfb`, symKey, Buffer.alloc(16))
  const plain = Buffer.concat([decipher.update(encIdentity), decipher.final()])
  if (plain.readUInt16BE(0) !== plain.length - 2) throw new Error("activate: bad inner size")
  return plain.subarray(2)
}

/** PCRs 0–7 of the SHA-256 bank (the default selection), fixed for the whole bench. */
export const PCR_SELECTION = "sha256:0,1,2,3,4,5,6,7"
const PCR_VALUES = Array.from({ length: 8 }, (_, i) => crypto.createHash("sha256").update(`bench pcr ${i}`).digest())
const PCR_DIGEST = crypto.createHash("sha256").update(Buffer.concat(PCR_VALUES)).digest()
const PCRS_JSON = { sha256: Object.fromEntries(PCR_VALUES.map((v, i) => [String(i), v.toString("hex")])) }

/** A machine's TPM: EK and AK, their wire forms, activation and quotes. */
export const softwareTpm = () => {
  const ek = softwareRsaEk()
  const ak = softwareEccAk()
  const akName = Tpm.objectName(ak.area, SHA256)
  const signer = Tpm.akQualifiedNameUnderEk(Tpm.objectName(ek.area, SHA256), akName)
  let clock = 0
  return {
    ekPublic: ek.tpm2b.toString("base64"),
    akPublic: ak.tpm2b.toString("base64"),
    /** base64 credential_file of the registration challenge → base64 secret for /activate. */
    activate: (credentialFileBase64) => activate(ek, akName, Buffer.from(credentialFileBase64, "base64")).toString("base64"),
    /** The body of POST /api/v1/attest for `nonce` (hex, from the challenge). */
    quote: (machineId, nonceHex) => {
      clock++
      const attest = Buffer.concat([
        u32(0xff544347), u16(0x8018), tpm2b(signer), tpm2b(Buffer.from(nonceHex, "hex")),
        u32(0), u32(clock), u32(1), u32(1), Buffer.from([1]), Buffer.alloc(8),
        u32(1), u16(SHA256), Buffer.from([3, 0xff, 0, 0]), tpm2b(PCR_DIGEST)
      ])
      const raw = crypto.sign("sha256", attest, { key: ak.privateKey, dsaEncoding: "ieee-p1363" })
      const signature = Buffer.concat([u16(0x0018), u16(SHA256), tpm2b(raw.subarray(0, 32)), tpm2b(raw.subarray(32))])
      return { machine_id: machineId, quote: attest.toString("base64"), signature: signature.toString("base64"), pcrs: PCRS_JSON }
    }
  }
}
