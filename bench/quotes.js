/**
 * `npm run bench:quotes`: quote verifications per second — the server's whole
 * per-quote check (parse TPMS_ATTEST and TPMT_SIGNATURE, the AK's qualified
 * name under the EK, the signature, the PCR selection and digest) — beside a
 * floor of bare `crypto.verify` calls on the same signatures with a ready key,
 * in the same process. RSASSA-2048 and ECDSA P-256 AKs.
 *
 * The quotes are built here in the TPM's byte formats and signed with node
 * keys, so the bench needs no TPM; the tests prove the same code accepts
 * swtpm's quotes. BENCH_SECONDS (default 3) per measurement.
 */
import { checkQuote, parseEvidence, Tpm } from "@itl-attestation/core"
import * as crypto from "node:crypto"

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3)
const u16 = (n) => Buffer.from([n >> 8, n & 0xff])
const u32 = (n) => Buffer.from([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])
const tpm2b = (b) => Buffer.concat([u16(b.length), b])
const b64url = (s) => Buffer.from(s, "base64url")

/** TPMT_PUBLIC of an RSA EK-shaped key, and of RSA / ECC restricted signing keys. */
const rsaEkArea = (key) =>
  Buffer.concat([u16(0x0001), u16(0x000b), u32(0x000300b2), u16(0), u16(0x0006), u16(128), u16(0x0043), u16(0x0010), u16(2048), u32(0), tpm2b(b64url(key.export({ format: "jwk" }).n))])
const SIGN_ATTRIBUTES = 0x00050072 // fixedTPM fixedParent sensitiveDataOrigin userWithAuth restricted sign
const rsaAkArea = (key) =>
  Buffer.concat([u16(0x0001), u16(0x000b), u32(SIGN_ATTRIBUTES), u16(0), u16(0x0010), u16(0x0014), u16(0x000b), u16(2048), u32(0), tpm2b(b64url(key.export({ format: "jwk" }).n))])
const eccAkArea = (key) => {
  const jwk = key.export({ format: "jwk" })
  return Buffer.concat([u16(0x0023), u16(0x000b), u32(SIGN_ATTRIBUTES), u16(0), u16(0x0010), u16(0x0018), u16(0x000b), u16(0x0003), u16(0x0010), tpm2b(b64url(jwk.x)), tpm2b(b64url(jwk.y))])
}

const SELECTION = "sha256:0,1,2,3,4,5,6,7"

const makeCase = (label, akPair, akArea, sign) => {
  const ek = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey
  const ekArea = rsaEkArea(ek)
  const signer = Tpm.akQualifiedNameUnderEk(Tpm.objectName(ekArea, 0x000b), Tpm.objectName(akArea, 0x000b))
  const values = Array.from({ length: 8 }, () => crypto.randomBytes(32))
  const digest = crypto.createHash("sha256").update(Buffer.concat(values)).digest()
  const nonce = crypto.randomBytes(32)
  const attest = Buffer.concat([
    u32(0xff544347), u16(0x8018), tpm2b(signer), tpm2b(nonce),
    Buffer.alloc(8), u32(1), u32(1), Buffer.from([1]), Buffer.alloc(8),
    u32(1), u16(0x000b), Buffer.from([3, 0xff, 0, 0]), tpm2b(digest)
  ])
  const { tpmtSignature, raw, verifyOptions } = sign(akPair.privateKey, attest)
  const pcrs = { sha256: Object.fromEntries(values.map((v, i) => [String(i), v.toString("hex")])) }
  const request = { quote: attest.toString("base64"), signature: tpmtSignature.toString("base64"), pcrs }
  const keys = { ekPublicArea: ekArea, akPublicArea: akArea }
  // Sanity: the server's check accepts it, so the bench measures the success path.
  const verdict = checkQuote(parseEvidence(request.quote, request.signature, request.pcrs), keys, SELECTION)
  if (verdict._tag !== "Right") throw new Error(`${label}: the constructed quote does not verify: ${verdict.left}`)
  const publicKey = akPair.publicKey
  return {
    label,
    server: () => checkQuote(parseEvidence(request.quote, request.signature, request.pcrs), keys, SELECTION),
    floor: () => crypto.verify("sha256", attest, { key: publicKey, ...verifyOptions }, raw)
  }
}

const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
const ecc = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" })
const cases = [
  makeCase("RSASSA-2048 / SHA-256", rsa, rsaAkArea(rsa.publicKey), (key, message) => {
    const raw = crypto.sign("sha256", message, { key, padding: crypto.constants.RSA_PKCS1_PADDING })
    return { raw, tpmtSignature: Buffer.concat([u16(0x0014), u16(0x000b), tpm2b(raw)]), verifyOptions: { padding: crypto.constants.RSA_PKCS1_PADDING } }
  }),
  makeCase("ECDSA P-256 / SHA-256", ecc, eccAkArea(ecc.publicKey), (key, message) => {
    const raw = crypto.sign("sha256", message, { key, dsaEncoding: "ieee-p1363" })
    return { raw, tpmtSignature: Buffer.concat([u16(0x0018), u16(0x000b), tpm2b(raw.subarray(0, 32)), tpm2b(raw.subarray(32))]), verifyOptions: { dsaEncoding: "ieee-p1363" } }
  })
]

/** Calls per second of `fn` over SECONDS (after a short warm-up). */
const rate = (fn) => {
  for (let i = 0; i < 200; i++) fn()
  let calls = 0
  const start = process.hrtime.bigint()
  const end = start + BigInt(SECONDS * 1e9)
  let now = start
  while (now < end) {
    for (let i = 0; i < 50; i++) fn()
    calls += 50
    now = process.hrtime.bigint()
  }
  return calls / (Number(now - start) / 1e9)
}

console.log(`quote verification, ${SECONDS} s each, node ${process.version}, ${process.arch}`)
console.log("scheme                  server checks/s   crypto.verify/s   ratio")
for (const c of cases) {
  const server = rate(c.server)
  const floor = rate(c.floor)
  console.log(`${c.label.padEnd(22)}  ${server.toFixed(0).padStart(15)}   ${floor.toFixed(0).padStart(15)}   ${(server / floor).toFixed(2)}`)
}
