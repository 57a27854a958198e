/**
 * Child program for bench/pulumi.js: the real server with the pulumi_state extension (serveExtensions.js).
 *
 * argv[2]: JSON object of ITL_* variables (ITL_PULUMI_TOKEN among them).
 */
import { pulumiState } from "@itl-attestation/pulumi-state"
import { serveWithExtensions } from "./serveExtensions.js"

await serveWithExtensions([pulumiState], JSON.parse(process.argv[2]))
