/**
 * The real server as the benches run it, in a child process (bench/lib/child.js): host-node's layer over the
 * given configuration (a ConfigProvider, never process.env) with the given extensions as built-ins, logging at
 * Warning and above only. The child programs (server.js, serverWithSecretVault.js, ../webhooksServer.js,
 * metricsServer.js) differ only in which extensions they pass.
 */
import { ConfigLive, RunningServer, serverLayer } from "@itl-attestation/host-node"
import { ConfigProvider, Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import { serveUntilStopped } from "./child.js"

export const serveWithExtensions = (builtins, env) =>
  serveUntilStopped(async () => {
    const layer = serverLayer({ builtins, root: "/nonexistent" }).pipe(
      Layer.provideMerge(ConfigLive),
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))),
      Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
    )
    const runtime = ManagedRuntime.make(layer)
    const info = await runtime.runPromise(RunningServer)
    return { url: info.url, close: () => runtime.dispose() }
  })
