/**
 * Child program for bench/metrics.js: the real server with the extensions named in the configuration, so that
 * the same program runs both sides of the histogram comparison (with and without `metrics`)
 * (serveExtensions.js).
 *
 * argv[2]: JSON { extensions: ["secretVault" | "webhooks" | "metrics", …], env: { ITL_*: … } }.
 */
import { metrics } from "@itl-attestation/metrics"
import { secretVault } from "@itl-attestation/secret-vault"
import { webhooks } from "@itl-attestation/webhooks"
import { serveWithExtensions } from "./serveExtensions.js"

const EXTENSIONS = { secretVault, webhooks, metrics }
const { extensions, env } = JSON.parse(process.argv[2])

const builtins = extensions.map((name) => {
  if (!(name in EXTENSIONS)) throw new Error(`unknown extension ${name}`)
  return EXTENSIONS[name]
})
await serveWithExtensions(builtins, env)
