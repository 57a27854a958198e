/**
 * Child program: the real server (host-node's serverLayer over the built
 * packages), started the way test-support/server.ts does it: configuration
 * from a ConfigProvider (never process.env), logs at Warning and above only so
 * that request logging does not distort the figures, core only (no extensions).
 *
 * argv[2]: JSON object of ITL_* variables.
 */
import { ConfigLive, RunningServer, serverLayer } from "@itl-attestation/host-node"
import { ConfigProvider, Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import { serveUntilStopped } from "./child.js"

const env = JSON.parse(process.argv[2])

await serveUntilStopped(async () => {
  const layer = serverLayer({ builtins: [], root: "/nonexistent" }).pipe(
    Layer.provideMerge(ConfigLive),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
  )
  const runtime = ManagedRuntime.make(layer)
  const info = await runtime.runPromise(RunningServer)
  return { url: info.url, close: () => runtime.dispose() }
})
