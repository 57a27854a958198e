/**
 * The five scenarios of the throughput bench, as load for bench/lib/load.js
 * measure(), each with a check of every 2xx body (the fields the service
 * answers with, so a floor that answered less would fail) and a deeper check
 * of one answer before the load (the secret opens, the session works).
 */
import * as crypto from "node:crypto"
import { performance } from "node:perf_hooks"
import { generateEkPems } from "./keys.js"
import { MACHINE_SECRET_NAME, SHARED_SECRET_NAME } from "./throughputSetup.js"

export const SCENARIOS = ["shared", "machine", "register", "attest", "get"]
export const SCENARIO_TITLES = {
  shared: "shared-secret read",
  machine: "machine-secret read (TPM-wrapped)",
  register: "registration",
  attest: "attestation round trip",
  get: "GET /api/v1/machines/{id}"
}

const MACHINE_FIELDS = [
  "id", "ek_fingerprint", "hostname", "status", "ek_verified", "has_ek_certificate", "ek_cert_verified", "ak_name", "enrolled_at",
  "failed_attestations", "hardware", "status_reason", "registered_at", "updated_at", "approved_at", "approved_by", "last_attested_at"
]
const sameKeys = (object, keys) =>
  typeof object === "object" && object !== null && Object.keys(object).length === keys.length && keys.every((k) => k in object)
const parsed = (body) => {
  try {
    return JSON.parse(body)
  } catch {
    return undefined
  }
}

/** Body checks: the service's response fields, nothing missing and nothing more. */
export const CHECKS = {
  shared: (b) => sameKeys(b, ["name", "value", "accessed_at"]) && b.name === SHARED_SECRET_NAME && b.value.length === 1024,
  machine: (b) =>
    sameKeys(b, ["secret_id", "name", "scheme", "credential_blob", "encrypted_secret", "credential_file", "ciphertext", "nonce", "tag"]) &&
    b.scheme === "tpm2-credential-v1" && b.name === MACHINE_SECRET_NAME,
  register: (b) =>
    sameKeys(b, ["machine", "challenge", "created"]) && b.created === true && b.challenge === null &&
    sameKeys(b.machine, ["id", "ek_fingerprint", "status", "ek_verified", "ek_cert_verified"]),
  challenge: (b) => sameKeys(b, ["nonce", "pcr_selection", "expires_at"]) && /^[0-9a-f]{64}$/.test(b.nonce),
  attest: (b) => sameKeys(b, ["session_token", "expires_at", "machine"]) && sameKeys(b.machine, MACHINE_FIELDS) && b.machine.status === "attested",
  get: (b) => sameKeys(b, MACHINE_FIELDS)
}

const pick = (array) => array[Math.floor(Math.random() * array.length)]
const bearer = (token) => ({ authorization: `Bearer ${token}` })
const JSON_HEADERS = { "content-type": "application/json" }

/**
 * measure() options (without url, connections, durations) for `scenario`.
 * @param data     throughputSetup's { operatorToken, machines, sharedValue }
 * @param label    the target's name, for registration hostnames
 * @param keyCount EK keys to pre-generate for registration
 */
export const loadFor = (scenario, data, { label, keyCount }) => {
  const { machines } = data
  const ok = (check) => (body) => {
    const json = parsed(body)
    return json !== undefined && check(json)
  }
  switch (scenario) {
    case "shared":
      return {
        method: "GET",
        next: () => ({ path: `/api/v1/shared-secrets/by-name/${SHARED_SECRET_NAME}/value`, headers: bearer(pick(machines).session) }),
        check: ok(CHECKS.shared)
      }
    case "machine":
      return {
        method: "GET",
        next: () => {
          const m = pick(machines)
          return { path: `/api/v1/secrets/machines/${m.id}/secrets/${MACHINE_SECRET_NAME}`, headers: bearer(m.session) }
        },
        check: ok(CHECKS.machine)
      }
    case "register": {
      const pems = generateEkPems(keyCount)
      let used = 0
      const prefix = `bench-reg-${label}-`
      return {
        method: "POST",
        headers: JSON_HEADERS,
        next: () => {
          if (used === pems.length) return undefined
          const i = used++
          return { path: "/api/v1/machines/register", body: JSON.stringify({ ek_public: pems[i], hostname: `${prefix}${i}` }) }
        },
        check: ok(CHECKS.register)
      }
    }
    case "attest": {
      // A machine is in one connection's round trip at a time (so it never holds more nonces than the
      // service allows): taken when the challenge is built, given back when the attestation answers.
      const free = [...machines]
      return {
        sequence: (sample) => [
          {
            method: "POST",
            path: "/api/v1/attest/challenge",
            headers: JSON_HEADERS,
            setupRequest: (request, context) => {
              context.machine = free.pop() ?? pick(machines)
              context.startedAt = performance.now()
              return { ...request, body: JSON.stringify({ machine_id: context.machine.id }) }
            },
            onResponse: (status, body, context) => {
              const json = status < 300 ? parsed(body) : undefined
              if (status < 300 && (json === undefined || !CHECKS.challenge(json))) sample.bad()
              context.nonce = json?.nonce
            }
          },
          {
            method: "POST",
            path: "/api/v1/attest",
            headers: JSON_HEADERS,
            setupRequest: (request, context) => {
              // A failed challenge still sends a (refused) attestation, which shows as a non-2xx.
              const nonce = context.nonce ?? crypto.randomBytes(32).toString("hex")
              return { ...request, body: JSON.stringify(context.machine.tpm.quote(context.machine.id, nonce)) }
            },
            onResponse: (status, body, context) => {
              free.push(context.machine)
              if (status >= 300) return
              const json = parsed(body)
              if (json === undefined || !CHECKS.attest(json)) sample.bad()
              else if (context.nonce !== undefined) sample(performance.now() - context.startedAt)
            }
          }
        ]
      }
    }
    case "get":
      return {
        method: "GET",
        headers: bearer(data.operatorToken),
        next: () => ({ path: `/api/v1/machines/${pick(machines).id}` }),
        check: ok(CHECKS.get)
      }
    default:
      throw new Error(`unknown scenario ${scenario}`)
  }
}

/** One request of each scenario, checked in depth; throws with what differs. */
export const preflight = async (url, scenario, data) => {
  const m = data.machines[0]
  const fetchJson = async (path, init = {}) => {
    const response = await fetch(url + path, init)
    const text = await response.text()
    if (!response.ok) throw new Error(`${scenario} preflight: ${init.method ?? "GET"} ${path}: ${response.status} ${text.slice(0, 300)}`)
    return JSON.parse(text)
  }
  const expect = (condition, what) => {
    if (!condition) throw new Error(`${scenario} preflight: ${what}`)
  }
  switch (scenario) {
    case "shared": {
      const b = await fetchJson(`/api/v1/shared-secrets/by-name/${SHARED_SECRET_NAME}/value`, { headers: bearer(m.session) })
      expect(CHECKS.shared(b) && b.value === data.sharedValue, "the shared secret's value differs")
      return
    }
    case "machine": {
      const b = await fetchJson(`/api/v1/secrets/machines/${m.id}/secrets/${MACHINE_SECRET_NAME}`, { headers: bearer(m.session) })
      expect(CHECKS.machine(b), `fields ${Object.keys(b)}`)
      // What the machine's TPM would do: ActivateCredential, then AES-256-GCM with the name as AAD.
      const key = Buffer.from(m.tpm.activate(b.credential_file), "base64")
      const decipher = crypto.createDecipheriv("aes-256-gcm", key, Buffer.from(b.nonce, "base64"))
      decipher.setAAD(Buffer.from(MACHINE_SECRET_NAME))
      decipher.setAuthTag(Buffer.from(b.tag, "base64"))
      const value = Buffer.concat([decipher.update(Buffer.from(b.ciphertext, "base64")), decipher.final()]).toString("utf8")
      expect(value === m.secretValue, "the TPM-wrapped secret does not open to its value")
      return
    }
    case "register": {
      const [pem] = generateEkPems(1)
      const b = await fetchJson("/api/v1/machines/register", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ ek_public: pem, hostname: `bench-reg-preflight-${crypto.randomBytes(4).toString("hex")}` }) })
      expect(CHECKS.register(b) && b.machine.status === "pending_approval", `answer ${JSON.stringify(b)}`)
      return
    }
    case "attest": {
      const challenge = await fetchJson("/api/v1/attest/challenge", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ machine_id: m.id }) })
      expect(CHECKS.challenge(challenge) && challenge.pcr_selection === "sha256:0,1,2,3,4,5,6,7", `challenge ${JSON.stringify(challenge)}`)
      const b = await fetchJson("/api/v1/attest", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify(m.tpm.quote(m.id, challenge.nonce)) })
      expect(CHECKS.attest(b) && b.machine.id === m.id, `attestation ${JSON.stringify(b).slice(0, 300)}`)
      // The new session is a working machine credential.
      await fetchJson(`/api/v1/shared-secrets/by-name/${SHARED_SECRET_NAME}/value`, { headers: bearer(b.session_token) })
      return
    }
    case "get": {
      const b = await fetchJson(`/api/v1/machines/${m.id}`, { headers: bearer(data.operatorToken) })
      expect(CHECKS.get(b) && b.id === m.id && b.status === "attested", `answer ${JSON.stringify(b).slice(0, 300)}`)
      return
    }
  }
}
