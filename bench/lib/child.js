/**
 * Runs a system under test (bench/lib/server.js or bench/lib/floor.js) in its
 * own Node process, so that it never shares an event loop with the load
 * generator. The child prints nothing on success; it sends `{ type: "ready",
 * url }` once it listens and exits when sent `{ type: "stop" }`.
 */
import { fork } from "node:child_process"

const START_TIMEOUT_MS = 180_000
const STOP_TIMEOUT_MS = 30_000

export const startChild = (program, config, { quiet = false } = {}) =>
  new Promise((resolve, reject) => {
    // quiet: the child's stdout (its log lines) is discarded, for callers that print a report there.
    // BENCH_PROFILE_DIR: each system under test writes a V8 CPU profile there when it exits.
    const profile = process.env.BENCH_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : []
    const child = fork(program, [JSON.stringify(config)], { execArgv: profile, stdio: ["ignore", quiet ? "ignore" : "inherit", "inherit", "ipc"] })
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`${program} did not start within ${START_TIMEOUT_MS / 1000} s`))
    }, START_TIMEOUT_MS)
    const exited = new Promise((done) => child.once("exit", (code, signal) => done({ code, signal })))
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${program} exited before it was ready (code ${code}, signal ${signal})`))
    })
    child.on("message", (message) => {
      if (message?.type === "error") {
        clearTimeout(timer)
        reject(new Error(`${program}: ${message.message}`))
      }
      if (message?.type !== "ready") return
      clearTimeout(timer)
      resolve({
        url: message.url,
        pid: child.pid,
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return
          const kill = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS)
          child.send({ type: "stop" })
          const { code, signal } = await exited
          clearTimeout(kill)
          if (code !== 0) throw new Error(`${program} stopped badly (code ${code}, signal ${signal})`)
        }
      })
    })
  })

/** Used by the child programs: report readiness, and exit cleanly on "stop". */
export const serveUntilStopped = async (start) => {
  try {
    const { url, close } = await start()
    process.on("message", async (message) => {
      if (message?.type !== "stop") return
      await close()
      process.exit(0)
    })
    process.send({ type: "ready", url })
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
    process.send({ type: "error", message }, () => process.exit(1))
  }
}
