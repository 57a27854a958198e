/**
 * Child program for bench/metrics.js: the real server (host-node's layer, as
 * bench/lib/server.js starts it) with the extensions named in the
 * configuration, so that the same program runs both sides of the histogram
 * comparison (with and without `metrics`). Logs at Warning and above only.
 *
 * argv[2]: JSON { extensions: ["secretVault" | "webhooks" | "metrics", …], env: { ITL_*: … } }.
 */
import { ConfigLive, RunningServer, serverLayer } from "@itl-attestation/host-node"
import { metrics } from "@itl-attestation/metrics"
import { secretVault } from "@itl-attestation/secret-vault"
import { webhooks } from "@itl-attestation/webhooks"
import { ConfigProvider, Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import { serveUntilStopped } from "./child.js"

const EXTENSIONS = { secretVault, webhooks, metrics }
const { extensions, env } = JSON.parse(process.argv[2])

await serveUntilStopped(async () => {
  const builtins = extensions.map((name) => {
    if (!(name in EXTENSIONS)) throw new Error(`unknown extension ${name}`)
    return EXTENSIONS[name]
  })
  const layer = serverLayer({ builtins, root: "/nonexistent" }).pipe(
    Layer.provideMerge(ConfigLive),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
  )
  const runtime = ManagedRuntime.make(layer)
  const info = await runtime.runPromise(RunningServer)
  return { url: info.url, close: () => runtime.dispose() }
})
