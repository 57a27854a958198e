/** `attestation serve`: run the platform server in this process. */
import { Effect } from "effect"
import { searchPaths } from "../discovery.js"
import { dynamicImport } from "../dynamicImport.js"
import { command } from "../framework/command.js"

// host-node (database, migrations, HTTP server) is imported only here, so the
// operator commands do not pay for loading it. runServer owns its runtime
// (signals, banner, exit code): this command hands over to it, and the CLI's
// own program then ends without exiting the process.
// Extensions, secret_vault included, are found as installed packages: those
// beside this CLI (where its own dependencies resolve from) and those in the
// working directory's node_modules; ITL_DISABLED_EXTENSIONS turns any off.
export const serveCommand = command({
  name: "serve",
  summary: "Run the attestation server until SIGTERM/SIGINT (configured by ITL_* variables)",
  description:
    "Without ITL_DATABASE_URL it keeps its data in ./.attestation (ITL_DATA_DIR) with the embedded database and prints " +
    "the generated admin token on the first start. docs/configuration.md lists every variable.",
  examples: [
    { command: "attestation serve", description: "Serve on http://127.0.0.1:9000 with the embedded database" },
    { command: "ITL_DATABASE_URL=postgresql://user:pass@db/attestation attestation serve", description: "Serve from PostgreSQL" }
  ],
  run: () =>
    Effect.promise(() => dynamicImport<typeof import("@itl-attestation/host-node")>("@itl-attestation/host-node")).pipe(Effect.map(({ runServer }) => runServer({ searchPaths: searchPaths() })))
})
