/**
 * `npm run bench:cli`: how long the `attestation` command takes to start,
 * against `node -e 0` measured in the same run (the floor no Node program
 * beats). Each command runs BENCH_RUNS times (default 15), interleaved with
 * the floor so that background load hits both alike; medians are printed, and
 * "own" is the median minus the floor's.
 *
 *   --help                         the root help (the extension commands come from the cache)
 *   machine list                   one request to a real server (embedded database, 20 machines)
 *   secret list <id>               an extension command: its module is imported when it runs
 *
 * Each is also run unbundled (dist/main.js: the modules tsc wrote, loaded one
 * by one, no code cache), the way the CLI started before it was bundled.
 *
 * Everything runs on 127.0.0.1. The CLI's caches live in a temporary
 * XDG_CACHE_HOME, warmed by one run before measuring.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { startChild } from "./lib/child.js"
import { embeddedDatabase } from "./lib/database.js"
import { createOperatorToken, registerMachines } from "./lib/setup.js"
import { setting } from "./lib/setting.js"

const RUNS = setting("BENCH_RUNS", 15)
const BIN = fileURLToPath(new URL("../packages/cli/dist/bin.js", import.meta.url))
const UNBUNDLED = fileURLToPath(new URL("../packages/cli/dist/main.js", import.meta.url))
const SERVER_PROGRAM = fileURLToPath(new URL("./lib/serverWithSecretVault.js", import.meta.url))
const log = (line) => console.error(`[bench:cli] ${line}`)

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

const timed = (args, env) => {
  const started = process.hrtime.bigint()
  const result = spawnSync(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"] })
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  if (result.status !== 0) throw new Error(`${args.join(" ")} exited ${result.status}: ${result.stderr}`)
  return ms
}

const database = embeddedDatabase()
const adminToken = `bench-admin-${crypto.randomBytes(16).toString("hex")}`
const server = await startChild(SERVER_PROGRAM, { ITL_PORT: "0", ITL_HOST: "127.0.0.1", ITL_ADMIN_TOKEN: adminToken, ...database.serverEnv }, { quiet: true })
const cacheHome = fs.mkdtempSync(path.join(os.tmpdir(), "itl-cli-cache-"))
try {
  const token = await createOperatorToken(server.url, adminToken)
  const [machineId] = await registerMachines(server.url, 20)
  const env = { ...process.env, ITL_URL: server.url, ITL_TOKEN: token, XDG_CACHE_HOME: cacheHome, NO_COLOR: "1" }
  const commands = {
    "--help": ["--help"],
    "machine list": ["machine", "list"],
    "secret list <id> (extension)": ["secret", "list", machineId]
  }
  // Warm the caches (extension commands, code cache, the OS file cache) once.
  for (const args of Object.values(commands)) {
    execFileSync(process.execPath, [BIN, ...args], { env, stdio: "ignore" })
    execFileSync(process.execPath, [UNBUNDLED, ...args], { env, stdio: "ignore" })
  }
  const samples = { floor: [] }
  for (const name of Object.keys(commands)) samples[name] = { bundled: [], unbundled: [] }
  log(`${RUNS} runs of each, interleaved with the floor`)
  for (let i = 0; i < RUNS; i++) {
    for (const [name, args] of Object.entries(commands)) {
      samples.floor.push(timed(["-e", "0"], env))
      samples[name].bundled.push(timed([BIN, ...args], env))
      samples[name].unbundled.push(timed([UNBUNDLED, ...args], env))
    }
  }
  const floor = median(samples.floor)
  const ms = (value) => value.toFixed(0).padStart(10)
  console.log(`node ${process.version}, ${os.cpus().length} cores, ${RUNS} runs each (medians, ms; own = wall - floor)`)
  console.log(`${"command".padEnd(34)}${"wall".padStart(10)}${"own".padStart(10)}${"unbundled".padStart(10)}${"own".padStart(10)}${"ratio".padStart(8)}`)
  console.log(`${"node -e 0 (floor)".padEnd(34)}${ms(floor)}`)
  for (const name of Object.keys(commands)) {
    const bundled = median(samples[name].bundled)
    const unbundled = median(samples[name].unbundled)
    const ratio = (unbundled - floor) / (bundled - floor)
    console.log(`${`attestation ${name}`.padEnd(34)}${ms(bundled)}${ms(bundled - floor)}${ms(unbundled)}${ms(unbundled - floor)}${`${ratio.toFixed(1)}x`.padStart(8)}`)
  }
} finally {
  await server.stop()
  await database.cleanup()
  fs.rmSync(cacheHome, { recursive: true, force: true })
}
