/**
 * `agent secret get`: a machine secret delivered bound to this TPM
 * (`tpm2-credential-v1`). The server wraps a fresh 32-byte key with
 * TPM2_MakeCredential to this machine's EK and enrolled AK, and encrypts the
 * value under it (AES-256-GCM, AAD = the secret's name). Only this TPM, with
 * the AK loaded, recovers the key, by the same credential activation as enroll.
 */
import { Effect, Option } from "effect"
import { asMachineId } from "../commands/shared.js"
import * as crypto from "node:crypto"
import { CliFailure } from "../errors.js"
import { openDelivery } from "../vault.js"
import { vaultMachineApi } from "./api.js"
import { activateCredential } from "./keys.js"
import { readSession, requireEnrolled } from "./state.js"

const ATTEST = "run `attestation agent attest`"

/** The saved session token of the enrolled machine, if it is still live. */
const liveSession = (dir: string, machineId: string) =>
  Effect.flatMap(readSession(dir), (stored) => {
    const ours = Option.filter(stored, (session) => session.machine_id === machineId)
    if (Option.isNone(ours)) return Effect.fail(new CliFailure({ message: `no session; ${ATTEST}` }))
    if (Date.parse(ours.value.expires_at) <= Date.now()) return Effect.fail(new CliFailure({ message: `session expired; ${ATTEST}` }))
    return Effect.succeed(ours.value.token)
  })

export interface RevealedSecret {
  readonly name: string
  readonly value: string
}

export const getSecret = (dir: string, url: string, name: string) =>
  Effect.gen(function* () {
    const state = yield* requireEnrolled(dir)
    const token = yield* liveSession(dir, state.machine_id)
    const delivered = yield* vaultMachineApi(url, { _tag: "Session", token }, (client) =>
      client.machineSecretRead.read({ path: { id: asMachineId(state.machine_id), name }, urlParams: { scheme: "tpm2-credential-v1" } })
    )
    if (delivered.scheme !== "tpm2-credential-v1") {
      return yield* new CliFailure({ message: `the server delivered ${name} as ${delivered.scheme}, not tpm2-credential-v1` })
    }
    // Per-run names: the credential and the recovered key never share a file with another run.
    const stem = `secret-${process.pid}-${crypto.randomBytes(4).toString("hex")}`
    const key = yield* activateCredential(dir, state.ek_alg, Buffer.from(delivered.credential_file, "base64"), {
      input: `${stem}.cred`,
      output: `${stem}.key`
    })
    const value = yield* openDelivery(key, delivered, name, `secret ${name}`).pipe(Effect.ensuring(Effect.sync(() => key.fill(0))))
    return { name, value } satisfies RevealedSecret
  })
