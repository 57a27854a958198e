/**
 * The embedded database as another local user sees it: no TCP port but the
 * HTTP one, a socket in a 0700 directory that an unprivileged account cannot
 * reach, and no file under the data directory readable by group or others.
 * Always embedded (it is about the embedded mode), whatever TEST_DATABASE_URL says.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import { hexKey, killAll, request, spawnServe } from "./spawned.js"

afterAll(killAll)

const adminToken = `embedded-admin-${hexKey().slice(0, 16)}`

/** TCP ports the process listens on, from `ss` (iproute2). */
const tcpListenPorts = (pid: number): Array<number> =>
  execFileSync("ss", ["-Hltnp"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(`pid=${pid},`))
    .map((line) => Number(line.trim().split(/\s+/)[3]!.split(":").pop()))

/** Unix sockets the process listens on. */
const unixListenPaths = (pid: number): Array<string> =>
  execFileSync("ss", ["-Hlxp"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(`pid=${pid},`))
    .map((line) => line.trim().split(/\s+/)[4]!)

/** Every file and directory under `root` (root included) that group or others may use. */
const openToOthers = (root: string): Array<string> => {
  const found: Array<string> = []
  const visit = (entry: string) => {
    const stat = fs.lstatSync(entry)
    if (stat.isSymbolicLink()) return
    if ((stat.mode & 0o077) !== 0) found.push(`${entry} ${(stat.mode & 0o777).toString(8)}`)
    if (stat.isDirectory()) for (const child of fs.readdirSync(entry)) visit(path.join(entry, child))
  }
  visit(root)
  return found
}

/** Runs a Node snippet as the unprivileged `nobody` account (the tests run as root). */
const asNobody = (script: string) =>
  spawnSync("runuser", ["-u", "nobody", "--", process.execPath, "-e", script], { encoding: "utf8", timeout: 15_000 })

const tryPostgres = async (port: number) => {
  const client = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres", connectionTimeoutMillis: 3_000 })
  try {
    await client.connect()
    await client.query("SELECT 1")
    return "connected"
  } catch (error) {
    return (error as Error).message
  } finally {
    await client.end().catch(() => {})
  }
}

describe("embedded database", () => {
  it("listens on no TCP port but HTTP; its socket sits in a 0700 directory another user cannot enter", async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), "itl-emb-"))
    fs.chmodSync(parent, 0o755)
    const dataDir = path.join(parent, "data")
    try {
      const server = await spawnServe({ ITL_DATA_DIR: dataDir, ITL_ADMIN_TOKEN: adminToken, ITL_LOG_LEVEL: "warning" })
      await server.waitFor(/listening on/, 90_000)
      const pid = server.child.pid!
      const ports = tcpListenPorts(pid)
      expect(ports).toEqual([server.port])
      // The old way in: PostgreSQL protocol as `postgres` on a loopback port of the server.
      for (const port of ports) expect(await tryPostgres(port)).not.toBe("connected")

      const sockets = unixListenPaths(pid)
      expect(sockets).toHaveLength(1)
      const socketDir = path.dirname(sockets[0]!)
      expect(socketDir).toBe(path.join(dataDir, "run"))
      expect(fs.statSync(socketDir).mode & 0o777).toBe(0o700)
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700)

      // Another local account cannot reach the socket (nor list the data directory).
      const attempt = asNobody(
        `require("net").connect(${JSON.stringify(sockets[0])}).on("connect", () => { console.log("connected"); process.exit(0) }).on("error", (e) => { console.log(e.code); process.exit(0) })`
      )
      expect(attempt.stdout.trim()).toBe("EACCES")
      expect(asNobody(`try { require("fs").readdirSync(${JSON.stringify(dataDir)}); console.log("listed") } catch (e) { console.log(e.code) }`).stdout.trim()).toBe("EACCES")

      // Still a working database through the API.
      const created = await request(server.url, {
        method: "POST",
        path: "/api/v1/operators/tokens",
        headers: { authorization: `Bearer ${adminToken}` },
        body: JSON.stringify({ name: "perm-check", role: "viewer" })
      })
      expect(created.status).toBe(201)
      expect(openToOthers(dataDir)).toEqual([])

      // A crash leaves the socket file behind; the next start replaces it.
      server.child.kill("SIGKILL")
      await server.exit()
      expect(fs.existsSync(sockets[0]!)).toBe(true)
      const restarted = await spawnServe({ ITL_DATA_DIR: dataDir, ITL_ADMIN_TOKEN: adminToken, ITL_LOG_LEVEL: "warning" })
      await restarted.waitFor(/listening on/, 90_000)
      // A second server on the same data directory is refused before it opens the database.
      const second = await spawnServe({ ITL_DATA_DIR: dataDir, ITL_ADMIN_TOKEN: adminToken, ITL_LOG_LEVEL: "warning" })
      expect(await second.exit()).toBe(1)
      expect(second.output().stderr.trim().split("\n")).toEqual([
        expect.stringMatching(/^attestation: cannot start: ITL_DATA_DIR .* is in use by another running server$/)
      ])
      expect((await request(restarted.url, { path: "/readyz" })).status).toBe(200)
      restarted.child.kill("SIGTERM")
      expect(await restarted.exit()).toBe(0)
      expect(fs.existsSync(sockets[0]!)).toBe(false)
      expect(openToOthers(dataDir)).toEqual([])
    } finally {
      fs.rmSync(parent, { recursive: true, force: true })
    }
  }, 240_000)

  it("tightens a data directory that others could read, with a warning; a path too long for a socket uses a private temporary directory", async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), "itl-emb-"))
    // Over the 107-byte limit of a Unix socket path once `/run/.s.PGSQL.5432` is added.
    const dataDir = path.join(parent, "d".repeat(60), "e".repeat(40))
    try {
      fs.mkdirSync(path.join(dataDir, "notes"), { recursive: true, mode: 0o755 })
      for (const dir of [parent, path.join(parent, "d".repeat(60)), dataDir, path.join(dataDir, "notes")]) fs.chmodSync(dir, 0o755)
      fs.writeFileSync(path.join(dataDir, "notes", "readme.txt"), "operator notes\n", { mode: 0o644 })
      fs.chmodSync(path.join(dataDir, "notes", "readme.txt"), 0o644)

      const server = await spawnServe({ ITL_DATA_DIR: dataDir, ITL_ADMIN_TOKEN: adminToken })
      await server.waitFor(/listening on/, 90_000)
      expect(server.output().stdout).toMatch(/level=WARN .*ITL_DATA_DIR .* was accessible to other users \(3 files or directories/)
      expect(openToOthers(dataDir)).toEqual([])
      // The operator's own file is kept, only its mode changed.
      expect(fs.readFileSync(path.join(dataDir, "notes", "readme.txt"), "utf8")).toBe("operator notes\n")

      const [socket] = unixListenPaths(server.child.pid!)
      expect(socket!.startsWith(dataDir)).toBe(false)
      expect(path.dirname(path.dirname(socket!))).toBe(fs.realpathSync(os.tmpdir()))
      expect(fs.statSync(path.dirname(socket!)).mode & 0o777).toBe(0o700)
      expect(tcpListenPorts(server.child.pid!)).toEqual([server.port])
      expect((await request(server.url, { path: "/readyz" })).status).toBe(200)

      server.child.kill("SIGTERM")
      expect(await server.exit()).toBe(0)
      // The temporary socket directory goes with the server.
      expect(fs.existsSync(path.dirname(socket!))).toBe(false)
    } finally {
      fs.rmSync(parent, { recursive: true, force: true })
    }
  }, 180_000)
})
