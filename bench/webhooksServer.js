/**
 * Child program for bench/webhooks.js: the real server (host-node's layer, as
 * bench/lib/server.js starts it) with the webhooks extension loaded
 * (`builtins: [webhooks]`). Logs at Warning and above only.
 *
 * argv[2]: JSON object of ITL_* variables.
 */
import { ConfigLive, RunningServer, serverLayer } from "@itl-attestation/host-node"
import { webhooks } from "@itl-attestation/webhooks"
import { ConfigProvider, Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import { serveUntilStopped } from "./lib/child.js"

const env = JSON.parse(process.argv[2])

await serveUntilStopped(async () => {
  const layer = serverLayer({ builtins: [webhooks], root: "/nonexistent" }).pipe(
    Layer.provideMerge(ConfigLive),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
  )
  const runtime = ManagedRuntime.make(layer)
  const info = await runtime.runPromise(RunningServer)
  return { url: info.url, close: () => runtime.dispose() }
})
