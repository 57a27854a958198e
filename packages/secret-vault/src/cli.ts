/**
 * secret_vault's commands for the `attestation` CLI, found through this
 * package's `"attestationCli"` field: `secret …` and `shared-secret …` for
 * operators, `agent secret get` on the machine.
 */
import { defineCliExtension } from "@itl-attestation/cli/sdk"
import { agentSecretCommand } from "./cli/agentSecret.js"
import { secretCommand } from "./cli/secret.js"
import { sharedSecretCommand } from "./cli/sharedSecret.js"

export default defineCliExtension({
  name: "secret_vault",
  commands: [secretCommand, sharedSecretCommand],
  agentCommands: [agentSecretCommand]
})
