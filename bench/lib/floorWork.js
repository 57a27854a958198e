/**
 * What both throughput floors (bareFloor.js, effectFloor.js) do besides
 * talking HTTP: the service's SQL texts (copied from the core and
 * secret_vault sources; with log_statement = all the floors issue the same
 * sequence per request as the service) and the same crypto and response
 * shapes, as plain functions. Each floor brings its own HTTP server and its
 * own database client.
 */
import { checkSigned, keyIdOf, parseEvidence, Tpm } from "@itl-attestation/core"
import * as crypto from "node:crypto"

export const SQL = {
  // core operators/OperatorTokens.ts authenticate (last_used_at at most once a minute)
  tokenByHash: "SELECT * FROM operator_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
  touchToken: "UPDATE operator_tokens SET last_used_at = now() WHERE id = $1",
  // core sessions/MachineSessions.ts lookup, issue
  sessionMachine: `SELECT m.id, m.ek_fingerprint, m.hostname, m.status
    FROM machine_sessions s JOIN machines m ON m.id = s.machine_id
    WHERE s.token_hash = $1 AND s.expires_at > now()`,
  insertSession: `INSERT INTO machine_sessions (token_hash, machine_id, expires_at)
    VALUES ($1, $2, now() + make_interval(secs => $3)) RETURNING expires_at`,
  deleteExpiredSessions: "DELETE FROM machine_sessions WHERE machine_id = $1 AND expires_at < now()",
  // core machines/MachineRepo.ts
  machineById: "SELECT * FROM machines WHERE id = $1",
  machineByIdForUpdate: "SELECT * FROM machines WHERE id = $1 FOR UPDATE",
  machineByFingerprintForUpdate: "SELECT * FROM machines WHERE ek_fingerprint = $1 FOR UPDATE",
  machinesByHostname: "SELECT * FROM machines WHERE lower(hostname) = lower($1)",
  insertMachine: `INSERT INTO machines (ek_fingerprint, ek_public_pem, ek_certificate, hostname, hardware, status)
    VALUES ($1, $2, $3, $4, $5::jsonb, 'pending_approval')
    ON CONFLICT (ek_fingerprint) DO NOTHING RETURNING *`,
  // core attestation/AttestationRepo.ts
  deleteExpiredNonces: "DELETE FROM attestation_nonces WHERE machine_id = $1 AND expires_at < now()",
  outstandingNonces: `SELECT count(*)::int AS count, ceil(EXTRACT(EPOCH FROM (min(expires_at) - now())))::int AS wait
    FROM attestation_nonces WHERE machine_id = $1`,
  insertNonce: `INSERT INTO attestation_nonces (nonce, machine_id, pcr_selection, expires_at)
    VALUES ($1, $2, $3, now() + make_interval(secs => $4)) RETURNING expires_at`,
  consumeNonce: `DELETE FROM attestation_nonces WHERE nonce = $1 AND machine_id = $2
    RETURNING machine_id, pcr_selection, expires_at < now() AS expired`,
  recordSuccess: `UPDATE machines SET
      status = CASE WHEN status = 'approved' THEN 'attested' ELSE status END,
      last_attested_at = now(), failed_attestations = 0, updated_at = now(),
      pcr_policy = COALESCE(pcr_policy, $1::jsonb)
    WHERE id = $2 RETURNING *`,
  // secret-vault SharedSecrets.ts readByName, MachineSecrets.ts read
  sharedSecretByName: "SELECT * FROM extension_shared_secrets WHERE name = $1",
  touchSharedAccess: `UPDATE extension_shared_secret_access
    SET access_count = access_count + 1, last_accessed_at = now()
    WHERE shared_secret_id = $1 AND machine_id = $2 RETURNING last_accessed_at`,
  touchMachineSecret: `UPDATE extension_secrets
    SET access_count = access_count + 1, last_accessed_at = now()
    WHERE machine_id = $1 AND name = $2 RETURNING *`,
  // core audit/AuditLog.ts append (unsealed; the service's sealer links rows later, in batches)
  insertAudit: `INSERT INTO audit_log (at, actor, actor_kind, action, target_type, target_id, details)
    VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
  // core events/Events.ts append
  insertEvent: `INSERT INTO events (event_type, timestamp, machine_id, data)
    VALUES ($1, $2, $3, $4::jsonb)
    RETURNING seq::text AS seq, id, event_type, timestamp, machine_id, data`
}

export class HttpError extends Error {
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

export const ACTIVE = new Set(["approved", "attested"])
export const NO_CHALLENGE = new Set(["locked", "revoked", "rejected"])
export const MAX_OUTSTANDING_NONCES = 8
export const NONCE_TTL_SECONDS = 60
export const SESSION_TTL_SECONDS = 3600
export const LAST_USED_PRECISION_MS = 60_000
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
export const SECRET_NAME = /^[A-Za-z0-9._-]{1,128}$/
export const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/
export const BEARER = /^Bearer\s+(\S+)\s*$/i

export const hashToken = (token) => crypto.createHash("sha256").update(token, "utf8").digest("hex")
export const generateToken = (prefix) => `${prefix}_${crypto.randomBytes(32).toString("base64url")}`

const iso = (date) => (date === null ? null : date.toISOString())
/** The API's Machine (core machines/Machine.ts toMachine). */
export const machineJson = (row) => ({
  id: row.id,
  ek_fingerprint: row.ek_fingerprint,
  hostname: row.hostname,
  status: row.status,
  ek_verified: row.ek_verified,
  has_ek_certificate: row.ek_certificate !== null,
  ek_cert_verified: row.ek_cert_verified,
  ak_name: row.ak_name === null ? null : row.ak_name.toString("hex"),
  enrolled_at: iso(row.enrolled_at),
  failed_attestations: row.failed_attestations,
  hardware: row.hardware,
  status_reason: row.status_reason,
  registered_at: row.registered_at.toISOString(),
  updated_at: row.updated_at.toISOString(),
  approved_at: iso(row.approved_at),
  approved_by: row.approved_by,
  last_attested_at: iso(row.last_attested_at)
})
/** What registration answers (core RegisteredMachine). */
export const registeredJson = (row) => ({
  id: row.id, ek_fingerprint: row.ek_fingerprint, status: row.status, ek_verified: row.ek_verified, ek_cert_verified: row.ek_cert_verified
})
/** core machines/machineEvent.ts */
export const machineEventData = (row, extra = {}) => ({
  machine_id: row.id, hostname: row.hostname, ek_fingerprint: row.ek_fingerprint, status: row.status, ...extra
})

/** A PEM EK as registration parses it (core machines/ekKey.ts): canonical PEM and SHA-256 fingerprint of the DER. */
export const parsePemEk = (pemText) => {
  let key
  try {
    key = crypto.createPublicKey({ key: pemText.trim(), format: "pem" })
  } catch {
    throw new HttpError(400, "ek_public is not a PEM SubjectPublicKeyInfo public key")
  }
  const der = key.export({ type: "spki", format: "der" })
  const pem = crypto.createPublicKey({ key: der, format: "der", type: "spki" }).export({ type: "spki", format: "pem" })
  return { pem, fingerprint: "sha256:" + crypto.createHash("sha256").update(der).digest("hex") }
}

/** AES-256-GCM open (core keyring, secret-vault SharedKeyring). */
export const gcmOpen = (key, nonce, ciphertext, tag, aad) => {
  const decipher = crypto.createDecipheriv("aes-256-gcm", key, nonce)
  decipher.setAAD(Buffer.from(aad))
  decipher.setAuthTag(tag)
  return Buffer.concat([decipher.update(ciphertext), decipher.final()])
}

export { keyIdOf }

/** The machine secret's AAD (secret-vault MachineSecrets.ts aadOf). */
export const machineSecretAad = (row) => `extension_secrets:${row.secret_id}:${row.machine_id}:${row.name}`

/** secret-vault delivery.ts sealForTpm: a fresh key wrapped with TPM2_MakeCredential, the value under it. */
export const sealForTpm = (ekPublicArea, akName, name, value) => {
  const key = crypto.randomBytes(32)
  const ekPublic = Tpm.parseTpmtPublic(ekPublicArea, "ek_public")
  const credential = Tpm.makeCredential({ ekPublic, objectName: akName, secret: key })
  const nonce = crypto.randomBytes(12)
  const cipher = crypto.createCipheriv("aes-256-gcm", key, nonce)
  cipher.setAAD(Buffer.from(name))
  const ciphertext = Buffer.concat([cipher.update(value), cipher.final()])
  return {
    credential_blob: credential.credentialBlob.toString("base64"),
    encrypted_secret: credential.encryptedSecret.toString("base64"),
    credential_file: Tpm.toTpm2ToolsCredentialFile(credential).toString("base64"),
    ciphertext: ciphertext.toString("base64"),
    nonce: nonce.toString("base64"),
    tag: cipher.getAuthTag().toString("base64")
  }
}

const BANK_ORDER = ["sha1", "sha256", "sha384", "sha512"]
/** core attestation/PcrPolicy.ts selectionOf */
export const selectionOf = (values) =>
  BANK_ORDER.filter((bank) => values[bank] !== undefined && Object.keys(values[bank]).length > 0)
    .map((bank) => `${bank}:${Object.keys(values[bank]).map(Number).sort((a, b) => a - b).join(",")}`)
    .join("+")
export const DEFAULT_PCR_SELECTION = "sha256:0,1,2,3,4,5,6,7"

/** core attestation/PcrPolicy.ts policyMismatches + uncoveredByQuote (both must be empty). */
export const policyProblems = (policy, verified) =>
  Object.entries(policy).flatMap(([bank, entries]) =>
    Object.entries(entries)
      .filter(([index, expected]) => verified.get(bank)?.get(Number(index))?.toString("hex") !== expected.toLowerCase())
      .map(([index]) => `${bank}:${index}`)
  )

/** core verifyQuote.ts parseEvidence; malformed evidence is a 400. */
export const parseQuote = (body) => {
  let evidence
  try {
    evidence = parseEvidence(body.quote, body.signature, body.pcrs)
  } catch (error) {
    throw new HttpError(400, `malformed evidence: ${error.message}`)
  }
  return evidence
}
/** core verifyQuote.ts checkSigned: the bound AK's signature over the quote and the PCR digest. */
export const signedBy = (evidence, machine) =>
  checkSigned(evidence, { ekPublicArea: machine.ek_public_tpm, akPublicArea: machine.ak_public })._tag === "Right"

export const pcrSelectionMatches = (evidence, selection) =>
  Tpm.pcrSelectionEquals(evidence.attest.pcrSelect, Tpm.parsePcrSelection(selection))
