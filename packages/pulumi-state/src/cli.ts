/** The pulumi_state extension's commands for the `attestation` CLI (`attestation pulumi …`), found through `"attestationCli"`. */
import { defineCliExtension } from "@itl-attestation/cli/sdk"
import { pulumiCommand } from "./cli/pulumi.js"

export default defineCliExtension({ name: "pulumi_state", commands: [pulumiCommand] })
