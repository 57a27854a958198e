/** `attestation serve`: run the platform server in this process. */
import { Command } from "@effect/cli"
import { Effect } from "effect"
import { searchPaths } from "../discovery.js"

// host-node (database, migrations, HTTP server) is imported only here, so the
// operator commands do not pay for loading it. runServer owns its runtime
// (signals, banner, exit code): this command hands over to it, and the CLI's
// own program then ends without exiting the process.
// Extensions, secret_vault included, are found as installed packages: those
// beside this CLI (where its own dependencies resolve from) and those in the
// working directory's node_modules; ITL_DISABLED_EXTENSIONS turns any off.
export const serveCommand = Command.make("serve", {}, () =>
  Effect.promise(() => import("@itl-attestation/host-node")).pipe(
    Effect.map(({ runServer }) => runServer({ searchPaths: searchPaths() }))
  )
).pipe(Command.withDescription("Run the attestation server until SIGTERM/SIGINT (configured by ITL_* variables)"))
