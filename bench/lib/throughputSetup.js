/**
 * The data of the throughput bench, made once per database through the real
 * server's API, as an agent and an operator would: an operator token; M
 * machines enrolled with a software TPM (register with ek_public + ak_public,
 * answer the credential challenge, be approved, attest once → a session
 * token, and trust-on-approve records the PCR values, which stay fixed); one
 * machine secret per machine; one shared secret (1 KiB) granted to all.
 */
import * as crypto from "node:crypto"
import { createOperatorToken } from "./setup.js"
import { softwareTpm } from "./softwareTpm.js"

export const SHARED_SECRET_NAME = "bench-shared"
export const MACHINE_SECRET_NAME = "bench-machine-secret"

const call = async (url, method, path, { token, body } = {}) => {
  const response = await fetch(url + path, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const json = await response.json().catch(() => undefined)
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`)
  return json
}

/** Runs `work(i)` for i < count, `parallel` at a time. */
const eachParallel = async (count, parallel, work) => {
  let next = 0
  const worker = async () => {
    while (next < count) await work(next++)
  }
  await Promise.all(Array.from({ length: parallel }, worker))
}

/** One machine, all the way from registration to its first session. */
const enrollMachine = async (url, adminToken, i) => {
  const tpm = softwareTpm()
  const hostname = `bench-machine-${i}`
  const registered = await call(url, "POST", "/api/v1/machines/register", {
    body: { ek_public: tpm.ekPublic, ak_public: tpm.akPublic, hostname }
  })
  const id = registered.machine.id
  if (registered.challenge === null) throw new Error(`machine ${hostname}: no credential challenge`)
  await call(url, "POST", `/api/v1/machines/${id}/activate`, { body: { secret: tpm.activate(registered.challenge.credential_file) } })
  await call(url, "POST", `/api/v1/machines/${id}/approve`, { token: adminToken, body: {} })
  const challenge = await call(url, "POST", "/api/v1/attest/challenge", { body: { machine_id: id } })
  const attested = await call(url, "POST", "/api/v1/attest", { body: tpm.quote(id, challenge.nonce) })
  const secretValue = crypto.randomBytes(24).toString("base64")
  await call(url, "POST", `/api/v1/secrets/machines/${id}/secrets`, { token: adminToken, body: { name: MACHINE_SECRET_NAME, value: secretValue } })
  return { id, hostname, tpm, secretValue, session: attested.session_token, fingerprint: attested.machine.ek_fingerprint }
}

/** Everything the scenarios need; `machines[i]` = { id, hostname, tpm, secretValue, session, fingerprint }. */
export const setUpThroughput = async (url, adminToken, count, log) => {
  const operatorToken = await createOperatorToken(url, adminToken)
  log(`enrolling ${count} machines with software TPMs (RSA-2048 EKs take a while)`)
  const machines = new Array(count)
  await eachParallel(count, 8, async (i) => {
    machines[i] = await enrollMachine(url, adminToken, i)
  })
  const sharedValue = crypto.randomBytes(768).toString("base64") // 1 KiB of base64
  const shared = await call(url, "POST", "/api/v1/shared-secrets", { token: adminToken, body: { name: SHARED_SECRET_NAME, value: sharedValue } })
  await call(url, "POST", `/api/v1/shared-secrets/${shared.shared_secret_id}/access`, {
    token: adminToken,
    body: { machine_ids: machines.map((m) => m.id) }
  })
  return { operatorToken, machines, sharedValue }
}
