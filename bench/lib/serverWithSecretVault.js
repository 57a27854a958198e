/**
 * Child program: the real server with the secret_vault extension loaded, for the secrets, throughput, probe and
 * CLI start benches (serveExtensions.js).
 *
 * argv[2]: JSON object of ITL_* variables.
 */
import { secretVault } from "@itl-attestation/secret-vault"
import { serveWithExtensions } from "./serveExtensions.js"

await serveWithExtensions([secretVault], JSON.parse(process.argv[2]))
