/**
 * Child program: the real server as bench/lib/server.js starts it, but with the
 * secret_vault extension loaded (`builtins: [secretVault]`), for
 * bench/secrets.js. Logs at Warning and above only.
 *
 * argv[2]: JSON object of ITL_* variables.
 */
import { ConfigLive, RunningServer, serverLayer } from "@itl-attestation/host-node"
import { secretVault } from "@itl-attestation/secret-vault"
import { ConfigProvider, Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import { serveUntilStopped } from "./child.js"

const env = JSON.parse(process.argv[2])

await serveUntilStopped(async () => {
  const layer = serverLayer({ builtins: [secretVault], root: "/nonexistent" }).pipe(
    Layer.provideMerge(ConfigLive),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
  )
  const runtime = ManagedRuntime.make(layer)
  const info = await runtime.runPromise(RunningServer)
  return { url: info.url, close: () => runtime.dispose() }
})
