/**
 * `agent attest`: a quote over the server's nonce and PCR selection, signed by
 * the enrolled AK, exchanged for a machine session token.
 */
import { type AttestationResult, type PcrValuesJson, Tpm } from "@itl-attestation/core/api"
import { DateTime, Effect, Option } from "effect"
import { asMachineId } from "../commands/shared.js"
import { CliFailure, messageOf } from "../errors.js"
import { agentApi, type MachineServer } from "./api.js"
import { withLoadedKeys } from "./keys.js"
import { FILES, readFileIn, removeFiles, requireEnrolled, writeSession } from "./state.js"
import { flushed, tpm2 } from "./tpm2.js"

/** `tpm2_quote -o` (serialized TPML_PCR_SELECTION + TPML_DIGEST) as the API's `{bank: {index: hex}}`. */
export const pcrValuesJson = (file: Uint8Array): PcrValuesJson => {
  const { values } = Tpm.parsePcrFileSerialized(file)
  const json: Record<string, Record<string, string>> = {}
  for (const [alg, bank] of values) {
    const name = Tpm.hashInfo(alg)?.name
    if (name === undefined) throw new Error(`unsupported PCR bank 0x${alg.toString(16).padStart(4, "0")}`)
    json[name] = Object.fromEntries([...bank].map(([index, value]) => [String(index), value.toString("hex")]))
  }
  return json as PcrValuesJson
}

export interface Attested {
  readonly result: AttestationResult
  /** Where the session token was saved. */
  readonly sessionFile: string
}

export const attest = (dir: string, url: MachineServer) =>
  Effect.gen(function* () {
    const state = yield* requireEnrolled(dir)
    const challenge = yield* agentApi(url, Option.none(), (client) => client.attestation.challenge({ payload: { machine_id: asMachineId(state.machine_id) } }))

    yield* removeFiles(dir, FILES.quote, FILES.signature, FILES.pcrs)
    const quote = tpm2(dir, "tpm2_quote", [
      "-c", FILES.akContext,
      "-l", challenge.pcr_selection,
      "-q", challenge.nonce,
      "-m", FILES.quote,
      "-s", FILES.signature,
      "-o", FILES.pcrs,
      "-g", "sha256",
      // tpm2_quote signs with RSASSA for any RSA key unless told otherwise.
      ...(state.ak_scheme === "rsapss" ? ["--scheme", "rsapss"] : [])
    ])
    yield* withLoadedKeys(dir, state.ek_alg, flushed(dir, quote))

    const [message, signature, pcrFile] = yield* Effect.all([readFileIn(dir, FILES.quote), readFileIn(dir, FILES.signature), readFileIn(dir, FILES.pcrs)])
    const pcrs = yield* Effect.try({
      try: () => pcrValuesJson(pcrFile),
      catch: (error) => new CliFailure({ message: `cannot read ${dir}/${FILES.pcrs}: ${messageOf(error)}` })
    })
    const result = yield* agentApi(url, Option.none(), (client) =>
      client.attestation.attest({
        payload: { machine_id: asMachineId(state.machine_id), quote: message.toString("base64"), signature: signature.toString("base64"), pcrs }
      })
    )
    yield* writeSession(dir, { machine_id: state.machine_id, token: result.session_token, expires_at: DateTime.formatIso(result.expires_at) })
    return { result, sessionFile: `${dir}/${FILES.machineSession}` } satisfies Attested
  })
