/**
 * `agent enroll`: make (or reuse) the EK and AK, register them with the
 * server, and prove with TPM2_ActivateCredential that this TPM holds the EK
 * and the AK. Run again, it reuses the keys in the state directory: it then
 * finishes an interrupted enrollment, or just reports the machine.
 */
import type { Machine, RegisteredMachine } from "@itl-attestation/core/api"
import { Effect, Option } from "effect"
import * as os from "node:os"
import { CliFailure } from "../errors.js"
import { agentApi, type MachineServer } from "./api.js"
import { activateCredential, createAk, createEk, readEkCertificate, schemeFor } from "./keys.js"
import { type AgentState, fileExists, FILES, type KeyAlg, readFileIn, readState, writeState } from "./state.js"

export interface EnrollOptions {
  readonly dir: string
  readonly url: MachineServer
  readonly hostname: Option.Option<string>
  readonly ekAlg: Option.Option<KeyAlg>
  readonly akAlg: Option.Option<KeyAlg>
}

export interface Enrolled {
  /** The full record after an activation; registration alone answers only what a machine needs. */
  readonly machine: Machine | RegisteredMachine
  /** The hostname this machine registered with. */
  readonly hostname: string
  /** False when the server already knew this EK. */
  readonly created: boolean
  /** True when this run answered a credential challenge. */
  readonly activated: boolean
}

/** The state to enroll with: the one saved with existing keys, or new keys. */
const keysFor = (options: EnrollOptions) =>
  Effect.gen(function* () {
    const { dir } = options
    const saved = yield* readState(dir)
    const keyFiles = yield* Effect.all([FILES.ekPublic, FILES.akPublic, FILES.akPrivate].map((name) => fileExists(dir, name)))
    if (Option.isSome(saved) && keyFiles.every(Boolean)) {
      const state = saved.value
      for (const [flag, given, kept] of [["--ek-alg", options.ekAlg, state.ek_alg], ["--ak-alg", options.akAlg, state.ak_alg]] as const) {
        if (Option.isSome(given) && given.value !== kept) {
          return yield* new CliFailure({
            message: `${dir} already holds keys enrolled with ${flag} ${kept}; use another --state-dir for ${flag} ${given.value}`
          })
        }
      }
      return { ...state, hostname: Option.getOrElse(options.hostname, () => state.hostname) }
    }
    const ekAlg = Option.getOrElse(options.ekAlg, () => "rsa" as const)
    const akAlg = Option.getOrElse(options.akAlg, () => "rsa" as const)
    yield* createEk(dir, ekAlg)
    yield* createAk(dir, akAlg, schemeFor(akAlg))
    const state: AgentState = {
      machine_id: null,
      ek_fingerprint: null,
      hostname: Option.getOrElse(options.hostname, () => os.hostname()),
      ek_alg: ekAlg,
      ak_alg: akAlg,
      ak_scheme: schemeFor(akAlg)
    }
    // Saved before registering: should the answer be lost, the next run reuses these keys.
    yield* writeState(dir, state)
    return state
  })

export const enroll = (options: EnrollOptions) =>
  Effect.gen(function* () {
    const { dir, url } = options
    const keys = yield* keysFor(options)
    const certificate = yield* readEkCertificate(dir, keys.ek_alg)
    const [ekPublic, akPublic] = yield* Effect.all([readFileIn(dir, FILES.ekPublic), readFileIn(dir, FILES.akPublic)])

    const registration = yield* agentApi(url, Option.none(), (client) =>
      client.machineRegistration.register({
        payload: {
          ek_public: ekPublic.toString("base64"),
          ak_public: akPublic.toString("base64"),
          hostname: keys.hostname,
          ...(Option.isSome(certificate) ? { ek_certificate: certificate.value.toString("base64") } : {})
        }
      })
    )
    const { machine, created, challenge } = registration
    yield* writeState(dir, { ...keys, machine_id: machine.id, ek_fingerprint: machine.ek_fingerprint })
    if (challenge === null) return { machine, hostname: keys.hostname, created, activated: false } satisfies Enrolled

    const secret = yield* activateCredential(dir, keys.ek_alg, Buffer.from(challenge.credential_file, "base64"))
    const activated = yield* agentApi(url, Option.none(), (client) =>
      client.machineRegistration.activate({ path: { id: machine.id }, payload: { secret: secret.toString("base64") } })
    )
    return { machine: activated, hostname: activated.hostname, created, activated: true } satisfies Enrolled
  })
