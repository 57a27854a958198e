/**
 * Child program for bench/webhooks.js: the real server with the webhooks extension loaded
 * (bench/lib/serveExtensions.js).
 *
 * argv[2]: JSON object of ITL_* variables.
 */
import { webhooks } from "@itl-attestation/webhooks"
import { serveWithExtensions } from "./lib/serveExtensions.js"

await serveWithExtensions([webhooks], JSON.parse(process.argv[2]))
