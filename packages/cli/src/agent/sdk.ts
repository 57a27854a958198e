/**
 * The machine side, for extension commands under `attestation agent`: the
 * agent's state directory option, the enrolled machine with its live session,
 * and credential activation with this machine's TPM (the way a secret is
 * delivered bound to it). The files and the TPM handling stay the agent's.
 */
import { Effect, Option } from "effect"
import * as crypto from "node:crypto"
import { CliFailure } from "../errors.js"
import { option } from "../framework/options.js"
import { activateCredential } from "./keys.js"
import { defaultStateDir, openStateDir, readSession, requireEnrolled } from "./state.js"
import { asCliFailure } from "./tpm2.js"

/** `--state-dir` (env ITL_AGENT_STATE_DIR, default ~/.itl-attestation/agent), as every agent command takes it. */
// Set but empty means the default, not the current directory (the runner treats an empty variable as unset).
export const stateDirOption = option.text("state-dir", {
  description: "Where the agent keeps its keys and tokens (default ~/.itl-attestation/agent)",
  placeholder: "DIR",
  env: "ITL_AGENT_STATE_DIR"
})

/** The state directory; only enroll creates it. */
export const stateDir = (given: string | undefined, create = false) =>
  openStateDir(given === undefined || given.trim() === "" ? defaultStateDir() : given, create)

const ATTEST = "run `attestation agent attest`"

/** The saved session token of the enrolled machine, if it is still live. */
export const liveSession = (dir: string, machineId: string) =>
  Effect.flatMap(readSession(dir), (stored) => {
    const ours = Option.filter(stored, (session) => session.machine_id === machineId)
    if (Option.isNone(ours)) return Effect.fail(new CliFailure({ message: `no session; ${ATTEST}` }))
    if (Date.parse(ours.value.expires_at) <= Date.now()) return Effect.fail(new CliFailure({ message: `session expired; ${ATTEST}` }))
    return Effect.succeed(ours.value.token)
  })

export interface AttestedMachine {
  readonly machineId: string
  /** The machine session token from the last `agent attest`. */
  readonly sessionToken: string
  /**
   * TPM2_ActivateCredential with this machine's EK and AK on a credential
   * blob (the file `tpm2_activatecredential -i` reads): the recovered secret,
   * which only this TPM can recover. Overwrite it when done. Its working
   * files in the state directory (`<label>-<pid>-<random>.cred|.key`) are
   * removed whatever happens.
   */
  readonly activateCredential: (credential: Uint8Array, label?: string) => Effect.Effect<Buffer, CliFailure>
}

/** The enrolled machine of the state directory `--state-dir` named, with a live session. */
export const attestedMachine = (given: string | undefined): Effect.Effect<AttestedMachine, CliFailure> =>
  Effect.gen(function* () {
    const dir = yield* stateDir(given)
    const state = yield* requireEnrolled(dir)
    const sessionToken = yield* liveSession(dir, state.machine_id)
    return {
      machineId: state.machine_id,
      sessionToken,
      activateCredential: (credential, label = "credential") => {
        // Per-run names: the credential and the recovered key never share a file with another run.
        const stem = `${label}-${process.pid}-${crypto.randomBytes(4).toString("hex")}`
        return asCliFailure(activateCredential(dir, state.ek_alg, credential, { input: `${stem}.cred`, output: `${stem}.key` }))
      }
    }
  })
