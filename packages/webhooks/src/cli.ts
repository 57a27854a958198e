/** The webhooks extension's commands for the `attestation` CLI (`attestation webhook …`), found through `"attestationCli"`. */
import { defineCliExtension } from "@itl-attestation/cli/sdk"
import { webhookCommand } from "./cli/webhook.js"

export default defineCliExtension({ name: "webhooks", commands: [webhookCommand] })
