/**
 * Every way the built `attestation serve` can fail to start ends in exactly
 * one line on stderr that names the cause and what to do, with exit code 1,
 * and never a password or a key: a port in use, an address that is not this
 * machine's or does not resolve, a privileged port, a data directory it cannot
 * write, a malformed key, an unreachable database, a wrong database password.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { freePort, hexKey, killAll, spawnServe } from "./spawned.js"

afterAll(killAll)

const secretPassword = `pw-${hexKey().slice(0, 16)}`
const isRoot = process.getuid?.() === 0
/** Root may bind any port and write anywhere: those cases run as `nobody`. */
const NOBODY = { uid: 65534, gid: 65534 }

const dataDirs: Array<string> = []
const dataDir = (owner?: { uid: number; gid: number }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-startfail-"))
  if (owner !== undefined) fs.chownSync(dir, owner.uid, owner.gid)
  dataDirs.push(dir)
  return dir
}
afterAll(() => dataDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })))

/** Starts the server, expects it to exit 1, and returns its one stderr line (and the whole output). */
const failedStart = async (env: Record<string, string>, options: { user?: { uid: number; gid: number } } = {}) => {
  const server = await spawnServe({ ITL_LOG_LEVEL: "warning", ...env }, options)
  expect(await server.exit(60_000)).toBe(1)
  const { stdout, stderr } = server.output()
  const lines = stderr.trim().split("\n")
  expect(lines, stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^attestation: cannot start: \S/)
  for (const secret of [secretPassword, ...Object.entries(env).filter(([k]) => k.includes("KEY")).map(([, v]) => v)]) {
    expect(stdout + stderr).not.toContain(secret)
  }
  return lines[0]!
}

describe("a server that cannot listen", () => {
  it("names a port already in use and the variable to change", async () => {
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve))
    const port = (blocker.address() as net.AddressInfo).port
    try {
      const line = await failedStart({ ITL_PORT: String(port), ITL_DATA_DIR: dataDir() })
      expect(line).toBe(`attestation: cannot start: port ${port} on 127.0.0.1 is already in use; stop the other process or set ITL_PORT`)
    } finally {
      blocker.close()
    }
  }, 90_000)

  it("says that ITL_HOST is not an address of this machine", async () => {
    // 192.0.2.0/24 is reserved for documentation: never assigned to an interface here.
    const line = await failedStart({ ITL_HOST: "192.0.2.1", ITL_DATA_DIR: dataDir() })
    expect(line).toBe(
      "attestation: cannot start: ITL_HOST 192.0.2.1 is not an address of this machine; set ITL_HOST to one of its addresses (127.0.0.1, or 0.0.0.0 for every interface)"
    )
  }, 90_000)

  it("says that ITL_HOST does not resolve", async () => {
    const line = await failedStart({ ITL_HOST: "no-such-host.invalid", ITL_DATA_DIR: dataDir() })
    expect(line).toBe(
      "attestation: cannot start: ITL_HOST no-such-host.invalid does not resolve to an address; set ITL_HOST to an address of this machine (127.0.0.1, or 0.0.0.0 for every interface)"
    )
  }, 90_000)

  it("explains a privileged port", async () => {
    const unprivilegedFrom = Number(fs.readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8").trim())
    // With ports below 80 open to everyone there is nothing to refuse.
    if (unprivilegedFrom <= 80) return
    const user = isRoot ? NOBODY : undefined
    const line = await failedStart({ ITL_PORT: "80", ITL_DATA_DIR: dataDir(user) }, user === undefined ? {} : { user })
    expect(line).toBe(
      "attestation: cannot start: permission denied to listen on port 80 on 127.0.0.1: ports below 1024 need privileges; set ITL_PORT to 1024 or above, or grant the process CAP_NET_BIND_SERVICE"
    )
  }, 90_000)
})

describe("a data directory it cannot use", () => {
  it("names ITL_DATA_DIR when a part of its path is a file", async () => {
    const file = path.join(dataDir(), "a-file")
    fs.writeFileSync(file, "")
    const line = await failedStart({ ITL_DATA_DIR: path.join(file, "data"), ITL_PORT: String(await freePort()) })
    expect(line).toBe(
      `attestation: cannot start: ITL_DATA_DIR ${path.join(file, "data")} is not a directory (or a part of its path is a file); set ITL_DATA_DIR to a directory this user can write`
    )
  }, 90_000)

  it("names ITL_DATA_DIR when this user may not write there", async () => {
    // A directory owned by root, mode 0755: not writable by anyone else.
    const parent = dataDir()
    fs.chmodSync(parent, 0o755)
    const target = path.join(parent, "data")
    const user = isRoot ? NOBODY : undefined
    if (user === undefined) fs.chmodSync(parent, 0o555)
    const line = await failedStart({ ITL_DATA_DIR: target }, user === undefined ? {} : { user })
    expect(line).toBe(
      `attestation: cannot start: ITL_DATA_DIR ${target} is not writable by this user (permission denied); set ITL_DATA_DIR to a directory this user can write`
    )
  }, 90_000)
})

describe("keys", () => {
  it.each(["ITL_MASTER_KEY", "ITL_SHARED_SECRET_MASTER_KEY"])("a malformed %s: names it and how to make one, without echoing it", async (variable) => {
    const malformed = `not-a-key-${hexKey().slice(0, 20)}`
    const line = await failedStart({ [variable]: malformed, ITL_DATA_DIR: dataDir() })
    expect(line).toMatch(
      new RegExp(`^attestation: cannot start: (secret_vault: )?${variable}: must be 64 hexadecimal characters \\(32 bytes\\); make one with \`openssl rand -hex 32\`$`)
    )
    expect(line).not.toContain(malformed)
  }, 90_000)
})

describe("the database", () => {
  it("unreachable: the URL with its password masked, and what the refusal means", async () => {
    const port = await freePort()
    const line = await failedStart({
      ITL_DATABASE_URL: `postgresql://itl:${secretPassword}@127.0.0.1:${port}/attestation`,
      ITL_DATABASE_CONNECT_TIMEOUT: "0 seconds",
      ITL_MASTER_KEY: hexKey(),
      ITL_SHARED_SECRET_MASTER_KEY: hexKey()
    })
    expect(line).toContain(`postgresql://itl:***@127.0.0.1:${port}/attestation`)
    expect(line).toContain(`connection refused: is PostgreSQL running and listening on that host and port? (connect ECONNREFUSED 127.0.0.1:${port})`)
  }, 60_000)

  it.skipIf(process.env.TEST_DATABASE_URL === undefined)("a wrong password: says so, and never prints it", async () => {
    const url = new URL(process.env.TEST_DATABASE_URL!)
    url.password = secretPassword
    const line = await failedStart({
      ITL_DATABASE_URL: url.href,
      ITL_MASTER_KEY: hexKey(),
      ITL_SHARED_SECRET_MASTER_KEY: hexKey()
    })
    expect(line).toBe(
      `attestation: cannot start: ITL_DATABASE_URL: postgresql://${url.username}:***@${url.hostname}:${url.port || "5432"}${url.pathname}: password authentication failed for user "${url.username}"`
    )
  }, 60_000)
})
