/**
 * `agent secret get`: a machine secret delivered bound to this TPM
 * (`tpm2-credential-v1`). The server wraps a fresh 32-byte key with
 * TPM2_MakeCredential to this machine's EK and enrolled AK, and encrypts the
 * value under it (AES-256-GCM, AAD = the secret's name). Only this TPM, with
 * the AK loaded, recovers the key, by the same credential activation as enroll.
 */
import { arg, attestedMachine, CliFailure, command, group, type MachineServer, render, stateDirOption } from "@itl-attestation/cli/sdk"
import { Effect } from "effect"
import { asMachineId } from "./machineId.js"
import { openDelivery, vaultMachineApi } from "./vault.js"

export interface RevealedSecret {
  readonly name: string
  readonly value: string
}

export const getSecret = (stateDir: Parameters<typeof attestedMachine>[0], url: MachineServer, name: string) =>
  Effect.gen(function* () {
    const machine = yield* attestedMachine(stateDir)
    const delivered = yield* vaultMachineApi.call(url, { _tag: "Session", token: machine.sessionToken }, (client) =>
      client.machineSecretRead.read({ path: { id: asMachineId(machine.machineId), name }, urlParams: { scheme: "tpm2-credential-v1" } })
    )
    if (delivered.scheme !== "tpm2-credential-v1") {
      return yield* new CliFailure({ message: `the server delivered ${name} as ${delivered.scheme}, not tpm2-credential-v1` })
    }
    const key = yield* machine.activateCredential(Buffer.from(delivered.credential_file, "base64"), "secret")
    const value = yield* openDelivery(key, delivered, name, `secret ${name}`).pipe(Effect.ensuring(Effect.sync(() => key.fill(0))))
    return { name, value } satisfies RevealedSecret
  })

const secretGetCommand = command({
  name: "get",
  summary: "Fetch a secret of this machine, opened with its TPM (needs `agent attest` first); prints the value",
  examples: [{ command: "attestation agent secret get db-password > /run/db-password", description: "Write a secret where a service reads it" }],
  args: { name: arg.text("secret-name", { description: "The secret's name" }) },
  options: { stateDir: stateDirOption },
  run: ({ args, options, globals }) =>
    Effect.gen(function* () {
      const secret = yield* getSecret(options.stateDir, globals, args.name)
      yield* render(globals.output, secret, (s) => s.value, () => [])
    })
})

/** `attestation agent secret …` */
export const agentSecretCommand = group({
  name: "secret",
  summary: "Secrets the server keeps for this machine",
  commands: [secretGetCommand],
  examples: [{ command: "attestation agent secret get db-password", description: "Print a secret of this machine" }]
})
