/** `attestation serve`: run the platform server in this process. */
import { Command } from "@effect/cli"
import { runServer } from "@itl-attestation/host-node"
import { Effect } from "effect"

// runServer owns its runtime (signals, banner, exit code), so this command
// only hands over to it; the CLI's own program then ends without exiting.
export const serveCommand = Command.make("serve", {}, () => Effect.sync(() => runServer({ builtins: [] }))).pipe(
  Command.withDescription("Run the attestation server until SIGTERM/SIGINT (configured by ITL_* variables)")
)
