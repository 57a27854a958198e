/** `attestation serve`: run the platform server in this process. */
import { Command } from "@effect/cli"
import { Effect } from "effect"

// host-node (database, migrations, HTTP server) is imported only here, so the
// operator commands do not pay for loading it. runServer owns its runtime
// (signals, banner, exit code): this command hands over to it, and the CLI's
// own program then ends without exiting the process.
// The extensions that ship with the platform; ITL_DISABLED_EXTENSIONS turns any off.
const loadBuiltins = () => Promise.all([import("@itl-attestation/secret-vault")]).then((modules) => modules.map((m) => m.default))

export const serveCommand = Command.make("serve", {}, () =>
  Effect.promise(() => Promise.all([import("@itl-attestation/host-node"), loadBuiltins()])).pipe(
    Effect.map(([{ runServer }, builtins]) => runServer({ builtins }))
  )
).pipe(Command.withDescription("Run the attestation server until SIGTERM/SIGINT (configured by ITL_* variables)"))
