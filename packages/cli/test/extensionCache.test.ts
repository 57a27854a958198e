/**
 * The cache of extension commands ($XDG_CACHE_HOME/itl-attestation/
 * cli-commands.json): help and completion read the commands of secret_vault
 * from it without importing the module, the module is imported when one of
 * its commands runs, and a change to the module's files (size or mtime)
 * invalidates the entry. The cache holds only text: an entry for a module no
 * installed package declares is ignored, and an unreadable cache is rebuilt.
 */
import { secretVault } from "@itl-attestation/secret-vault"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { cli, expectOneLineError, expectUsageError, json, ok, scratchDir } from "./support.js"

interface Node {
  name: string
  summary: string
  kind: string
  commands?: Array<Node>
}
interface CacheFile {
  format: number
  modules: Record<string, { name: string; commands: Array<Node>; agentCommands: Array<Node> }>
}

let server: TestServer
let machineId: string

beforeAll(async () => {
  server = await startServer({ extensions: [secretVault], env: { ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex") } })
  const registered = await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "cached" })
  machineId = registered.body.machine.id
})

afterAll(async () => {
  await server?.stop()
})

/** A fresh cache directory, the CLI run with it, and its file. */
const cache = () => {
  const dir = scratchDir("cache")
  const file = path.join(dir, "itl-attestation", "cli-commands.json")
  return {
    file,
    run: (args: ReadonlyArray<string>) => cli(args, { XDG_CACHE_HOME: dir, ITL_URL: server.url, ITL_TOKEN: server.adminToken }),
    read: () => JSON.parse(fs.readFileSync(file, "utf8")) as CacheFile,
    write: (content: CacheFile) => fs.writeFileSync(file, JSON.stringify(content))
  }
}

/** The one secret_vault entry: its module path and content. */
const vaultEntry = (content: CacheFile) => {
  const entries = Object.entries(content.modules).filter(([, entry]) => entry.name === "secret_vault")
  expect(entries).toHaveLength(1)
  return entries[0]!
}

const secretSummary = (help: string) => /^ {2}secret +(.*)$/m.exec(help)?.[1]

describe("the cache of extension commands", () => {
  it("is written by the first run, and help lists secret_vault's commands", async () => {
    const c = cache()
    expect(fs.existsSync(c.file)).toBe(false)
    const help = ok(await c.run(["--help"]))
    expect(help).toMatch(/^ {2}secret +Per-machine secrets/m)
    expect(help).toMatch(/^ {2}shared-secret +/m)
    const [module, entry] = vaultEntry(c.read())
    expect(module).toMatch(/secret-vault[\\/]dist[\\/]cli\.c?js$/)
    expect(entry.commands.map((n) => n.name)).toEqual(["secret", "shared-secret"])
    expect(entry.agentCommands.map((n) => n.name)).toEqual(["secret"])
    // Text only: no code, nothing but descriptors.
    expect(fs.readFileSync(c.file, "utf8")).not.toMatch(/function|=>/)
  })

  it("serves help from the cache, while running a command imports the module", async () => {
    const c = cache()
    ok(await c.run(["--help"]))
    const content = c.read()
    const [, entry] = vaultEntry(content)
    entry.commands.find((n) => n.name === "secret")!.summary = "Summary read from the cache file"
    c.write(content)
    const [help, groupHelp, listed] = await Promise.all([c.run(["--help"]), c.run(["secret", "--help"]), c.run(["-o", "json", "secret", "list", machineId])])
    expect(secretSummary(ok(help))).toBe("Summary read from the cache file")
    expect(ok(groupHelp).split("\n")[0]).toBe("Summary read from the cache file")
    expect(json(listed)).toMatchObject({ secrets: [], total: 0 })
  })

  it("is invalidated when a file of the module changes (mtime), and rebuilt from the module", async () => {
    const c = cache()
    ok(await c.run(["--help"]))
    const content = c.read()
    const [module, entry] = vaultEntry(content)
    entry.commands.find((n) => n.name === "secret")!.summary = "Stale summary"
    c.write(content)
    expect(secretSummary(ok(await c.run(["--help"])))).toBe("Stale summary")
    // A rebuild rewrites some file below the module's directory: touch one that is not the module itself.
    const touched = path.join(path.dirname(module), "cli", "secret.js")
    expect(fs.existsSync(touched)).toBe(true)
    const now = new Date()
    fs.utimesSync(touched, now, now)
    expect(secretSummary(ok(await c.run(["--help"])))).toMatch(/^Per-machine secrets/)
    expect(vaultEntry(c.read())[1].commands.find((n) => n.name === "secret")!.summary).toMatch(/^Per-machine secrets/)
  })

  it("reports a cached command the module no longer has, then forgets it", async () => {
    const c = cache()
    ok(await c.run(["--help"]))
    const content = c.read()
    const secret = vaultEntry(content)[1].commands.find((n) => n.name === "secret")!
    secret.commands!.push({ ...secret.commands![0]!, name: "frobnicate", summary: "Gone since" })
    c.write(content)
    expect(ok(await c.run(["secret", "--help"]))).toMatch(/^ {2}frobnicate +Gone since$/m)
    expectOneLineError(await c.run(["secret", "frobnicate", machineId]), 1, /changed since they were cached; run the command again/)
    expectUsageError(await c.run(["secret", "frobnicate", machineId]), "attestation secret", /unknown command 'frobnicate'/)
  })

  it("ignores an entry for a module no installed package declares", async () => {
    const c = cache()
    ok(await c.run(["--help"]))
    const content = c.read()
    const [, entry] = vaultEntry(content)
    content.modules["/tmp/not-installed/cli.js"] = { ...entry, name: "intruder", commands: [{ ...entry.commands[0]!, name: "intruder" }], agentCommands: [] }
    c.write(content)
    const help = ok(await c.run(["--help"]))
    expect(help).not.toContain("intruder")
    expectUsageError(await c.run(["intruder", "list"]), "attestation", /unknown command 'intruder'/)
  })

  it("rebuilds a cache file that is not JSON, or of another format", async () => {
    for (const text of ["{ not json", JSON.stringify({ format: 99, modules: {} }), JSON.stringify({ format: 1, modules: null })]) {
      const c = cache()
      fs.mkdirSync(path.dirname(c.file), { recursive: true })
      fs.writeFileSync(c.file, text)
      expect(ok(await c.run(["--help"]))).toMatch(/^ {2}secret +Per-machine secrets/m)
      expect(vaultEntry(c.read())[1].commands.map((n) => n.name)).toEqual(["secret", "shared-secret"])
    }
  })
})
