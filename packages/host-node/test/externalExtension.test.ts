/**
 * An extension as an outside author ships it: examples/external-extension is
 * packed with `npm pack`, installed from its tarball (with the platform's own
 * tarballs) into a fresh project, and that installation's `attestation serve`
 * and `attestation` CLI are run — from another directory, so the extension is
 * found beside the installed CLI, not by the working directory. Alongside it
 * sit two broken packages: a server extension and a CLI module that throw at
 * import; each is reported in one line and everything else works.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshDatabase, type FreshDatabase } from "../../../test-support/database.js"
import { exec, packPlatform, PLATFORM_PACKAGES, ROOT } from "../../../test-support/packing.js"
import { fakeEkPem } from "../../../test-support/server.js"
import { killAll, request, spawnServe, type Spawned } from "./spawned.js"

/** Not a workspace (installed in the repository it would be discovered by every server started there): packed from its directory. */
const EXAMPLE = path.join(ROOT, "examples/external-extension")

let work: string
let project: string
let installedBin: string
/** Where the processes run: neither the repository nor the project. */
let elsewhere: string

const writePackage = (name: string, manifest: Record<string, unknown>, files: Record<string, string>) => {
  const dir = path.join(project, "node_modules", name)
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0", type: "module", ...manifest }))
  for (const [file, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), content)
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "itl-external-"))
  const packs = path.join(work, "packs")
  project = path.join(work, "project")
  elsewhere = path.join(work, "elsewhere")
  for (const dir of [packs, project, elsewhere]) fs.mkdirSync(dir)
  await packPlatform(packs)
  const example = await exec("npm", ["pack", "--silent", "--pack-destination", packs], { cwd: EXAMPLE })
  expect(example.code, example.stderr).toBe(0)
  const tarballs = fs.readdirSync(packs).filter((f) => f.endsWith(".tgz")).map((f) => path.join(packs, f))
  expect(tarballs).toHaveLength(PLATFORM_PACKAGES.length + 1)
  fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "itl-host", private: true, type: "module" }))
  // Dependencies from the npm registry (the local cache first); the platform's own packages from the tarballs.
  const installed = await exec("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", ...tarballs], { cwd: project })
  expect(installed.code, installed.stderr).toBe(0)
  installedBin = path.join(project, "node_modules", "@itl-attestation", "cli", "dist", "bin.js")
  writePackage("broken-server-extension", { attestationExtensions: ["./index.js"] }, { "index.js": 'throw new Error("cannot find module ./gone.js")\n' })
  writePackage("broken-cli-extension", { attestationCli: ["./cli.js"] }, { "cli.js": 'throw new Error("the widget is missing")\n' })
  // Well-formed, but it would replace a core command.
  writePackage("clashing-cli-extension", { attestationCli: ["./cli.js"] }, {
    "cli.js": [
      'import { command, defineCliExtension } from "@itl-attestation/cli/sdk"',
      'import { Console } from "effect"',
      "const machine = command({",
      '  name: "machine",',
      '  summary: "Not the real machine command",',
      '  examples: [{ command: "attestation machine", description: "Would replace the core command" }],',
      '  run: () => Console.log("hijacked")',
      "})",
      'export default defineCliExtension({ name: "clash", commands: [machine] })',
      ""
    ].join("\n")
  })
}, 300_000)

afterAll(() => {
  killAll()
  if (work !== undefined) fs.rmSync(work, { recursive: true, force: true })
})

/** What the installed CLI says on stderr before any command: one line per bad CLI module, naming its package and file. */
const problems = () => [
  `attestation: cannot load the commands of broken-cli-extension (${path.join(project, "node_modules", "broken-cli-extension", "cli.js")}): the widget is missing`,
  `attestation: cannot load the commands of clashing-cli-extension (${path.join(project, "node_modules", "clashing-cli-extension", "cli.js")}): command machine already exists`
]
const problemLines = (stderr: string) => stderr.split("\n").filter((line) => line.startsWith("attestation: cannot load the commands of")).sort()

/** The installed CLI, run from elsewhere with a clean environment. */
const cli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  exec(process.execPath, [installedBin, ...args], { cwd: elsewhere, env: { PATH: process.env.PATH ?? "", HOME: elsewhere, ...env } })

/** PGlite always; a fresh PostgreSQL database as well when TEST_DATABASE_URL is set. */
const databases: Array<[string, () => Promise<FreshDatabase>]> = [
  [
    "embedded PGlite",
    async () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-external-db-"))
      return { env: { ITL_DATA_DIR: dataDir }, kind: "embedded", url: undefined, cleanup: async () => fs.rmSync(dataDir, { recursive: true, force: true }) }
    }
  ],
  ...(process.env.TEST_DATABASE_URL ? [["PostgreSQL", freshDatabase] as [string, () => Promise<FreshDatabase>]] : [])
]

describe.each(databases)("an extension installed from its npm tarball (%s)", (_label, makeDatabase) => {
  let database: FreshDatabase
  let server: Spawned
  const adminToken = `admin-${crypto.randomBytes(16).toString("hex")}`
  let operatorToken: string
  let viewerToken: string
  let machineId: string

  const call = async (method: string, route: string, token?: string, body?: unknown) => {
    const answer = await request(server.url, {
      method,
      path: route,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    return { status: answer.status, body: answer.body === "" ? undefined : JSON.parse(answer.body) }
  }

  beforeAll(async () => {
    database = await makeDatabase()
    server = await spawnServe(
      {
        ...database.env,
        ITL_ADMIN_TOKEN: adminToken,
        // secret_vault refuses to start on PostgreSQL without its key.
        ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex"),
        ITL_LOG_LEVEL: "warning"
      },
      { bin: installedBin, cwd: elsewhere }
    )
    await server.waitFor(/listening on /, 110_000)
    await server.waitFor(/^Extensions: .*$/m)
    const token = async (role: string) => (await call("POST", "/api/v1/operators/tokens", adminToken, { name: `${role}-1`, role })).body.token as string
    operatorToken = await token("operator")
    viewerToken = await token("viewer")
    const registered = await call("POST", "/api/v1/machines/register", undefined, { ek_public: fakeEkPem(), hostname: "rack-host-1" })
    expect(registered.status).toBe(201)
    machineId = registered.body.machine.id
    expect((await call("POST", `/api/v1/machines/${machineId}/approve`, operatorToken, {})).status).toBe(200)
  }, 150_000)

  afterAll(async () => {
    server?.child.kill("SIGKILL")
    await server?.exited
    await database?.cleanup()
  })

  it("loads the extension found beside the installed CLI, secret_vault and webhooks; reports the broken package in one line", async () => {
    const extensionsLine = (await server.waitFor(/^Extensions: .*$/m))[0]
    expect(extensionsLine).toContain("example_inventory 1.0.0")
    expect(extensionsLine).toContain("secret_vault 2.0.0")
    expect(extensionsLine).toContain("webhooks 1.0.0")
    const lines = server.output().stdout.split("\n")
    expect(lines.filter((l) => l.includes("Failed to load"))).toEqual([
      `[Extension] Failed to load broken-server-extension: cannot import ${fs.realpathSync(path.join(project, "node_modules", "broken-server-extension"))}/index.js: cannot find module ./gone.js`
    ])
    const listed = await call("GET", "/api/v1/extensions")
    expect(listed.status).toBe(200)
    expect(listed.body.extensions).toContainEqual({
      name: "example_inventory",
      version: "1.0.0",
      description: "An inventory tag per machine (example external extension)"
    })
    expect(listed.body.extensions.map((e: { name: string }) => e.name).sort()).toEqual(["example_inventory", "metrics", "pulumi_state", "secret_vault", "webhooks"])
  })

  it("serves its routes to operators and viewers as declared, and refuses everyone else", async () => {
    const route = `/api/v1/example-inventory/machines/${machineId}/tag`
    const set = await call("PUT", route, operatorToken, { tag: "RACK-7/U12" })
    expect(set.status).toBe(200)
    expect(set.body).toMatchObject({ machine_id: machineId, tag: "RACK-7/U12", updated_by: "operator-1" })
    expect((await call("PUT", route, undefined, { tag: "x1" })).status).toBe(401)
    expect((await call("PUT", route, "garbage-token", { tag: "x1" })).status).toBe(401)
    expect((await call("PUT", route, viewerToken, { tag: "x1" })).status).toBe(403)
    const bad = await call("PUT", route, operatorToken, { tag: " spaces not allowed " })
    expect(bad.status).toBe(400)
    expect(bad.body.message).toMatch(/tag/)
    const unknown = await call("PUT", `/api/v1/example-inventory/machines/${crypto.randomUUID()}/tag`, operatorToken, { tag: "x1" })
    expect(unknown.status).toBe(404)
    const list = await call("GET", "/api/v1/example-inventory/tags", viewerToken)
    expect(list.status).toBe(200)
    expect(list.body).toMatchObject({ total: 1, tags: [{ machine_id: machineId, tag: "RACK-7/U12" }] })
    expect((await call("GET", "/api/v1/example-inventory/tags")).status).toBe(401)
    // Its write is an audited change.
    const audit = await call("GET", "/api/v1/audit?limit=500", adminToken)
    expect(audit.status).toBe(200)
    expect(JSON.stringify(audit.body)).toContain("example_inventory.tag_set")
  })

  it("sees machine.approved through its event subscription", async () => {
    let seen = 0
    for (let i = 0; i < 200 && seen < 1; i++) {
      seen = (await call("GET", "/api/v1/example-inventory/stats", viewerToken)).body.approvals_seen
      if (seen < 1) await new Promise((r) => setTimeout(r, 100))
    }
    expect(seen).toBe(1)
  })

  it("documents its endpoints in /openapi.json", async () => {
    const doc = await call("GET", "/openapi.json")
    expect(doc.status).toBe(200)
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(["/api/v1/example-inventory/machines/{id}/tag", "/api/v1/example-inventory/tags", "/api/v1/example-inventory/stats"])
    )
  })

  it("adds `attestation inventory` to the installed CLI; a broken CLI module costs one stderr line", async () => {
    const PROBLEMS = problems()
    const [help, groupHelp, tagHelp, completed] = await Promise.all([
      cli(["--help"]),
      cli(["inventory", "--help"]),
      cli(["inventory", "tag", "--help"]),
      cli(["__complete", "inventory", "t"])
    ])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/^ {2}inventory +\S/m)
    expect(help.stdout).toMatch(/^ {2}shared-secret +\S/m)
    expect(help.stderr.trim().split("\n").sort()).toEqual(PROBLEMS)
    expect(groupHelp.code).toBe(0)
    expect(groupHelp.stdout).toMatch(/^ {2}tag +Set a machine's inventory tag/m)
    expect(tagHelp.code).toBe(0)
    expect(tagHelp.stdout).toContain("  attestation inventory tag <machine-id> <tag> [options]")
    expect(tagHelp.stdout).toMatch(/^ {2}-o, --output FORMAT /m)
    // Completion stays quiet about broken modules.
    expect(completed).toEqual({ code: 0, stdout: "tag\n", stderr: "" })
    const env = { ITL_URL: server.url, ITL_TOKEN: operatorToken }
    const tagged = await cli(["-o", "json", "inventory", "tag", machineId, "RACK-8"], env)
    expect(tagged.stderr.trim().split("\n").sort()).toEqual(PROBLEMS)
    expect(tagged.code).toBe(0)
    expect(JSON.parse(tagged.stdout)).toMatchObject({ machine_id: machineId, tag: "RACK-8", updated_by: "operator-1" })
    const [table, ids, badId] = await Promise.all([
      cli(["inventory", "list"], env),
      cli(["inventory", "list", "-o", "id"], env),
      cli(["inventory", "tag", "not-a-uuid", "RACK-9"], env)
    ])
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(new RegExp(`^${machineId}\\s+RACK-8\\s+operator-1`, "m"))
    expect(table.stdout).toContain("1 tag")
    expect(ids.code).toBe(0)
    expect(ids.stdout).toBe(`${machineId}\n`)
    // The SDK's argument checks give an extension's command the core's usage errors.
    expect(badId.code).toBe(2)
    expect(badId.stderr).toContain("attestation: <machine-id>: expected a UUID, got 'not-a-uuid' (see 'attestation inventory tag --help')")
    const refused = await cli(["inventory", "list"], { ITL_URL: server.url })
    expect(refused.code).toBe(4)
    const refusedLines = refused.stderr.trim().split("\n")
    expect(problemLines(refused.stderr)).toEqual(PROBLEMS)
    expect(refusedLines).toHaveLength(3)
    expect(refusedLines[2]).toMatch(/^attestation: .*\(HTTP 401\); pass --token, set ITL_TOKEN, or save one with attestation login$/)
    // The core's own commands are untouched, `machine` included.
    const extensions = await cli(["-o", "json", "extensions", "list"], env)
    expect(extensions.code).toBe(0)
    expect(JSON.parse(extensions.stdout).total).toBe(5)
    const machines = await cli(["-o", "json", "machine", "list"], env)
    expect(machines.code).toBe(0)
    expect(JSON.parse(machines.stdout).machines.map((m: { id: string }) => m.id)).toContain(machineId)
  })

  it("created its tables with its migrations", async () => {
    const query = "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'extension_example_%' ORDER BY table_name"
    const expected = ["extension_example_inventory_approvals", "extension_example_inventory_tags"]
    if (database.kind === "postgres") {
      const client = new pg.Client({ connectionString: database.url })
      await client.connect()
      try {
        expect((await client.query(query)).rows.map((r) => r.table_name)).toEqual(expected)
        expect((await client.query("SELECT name FROM migrations_example_inventory ORDER BY migration_id")).rows.map((r) => r.name)).toEqual([
          "create_tags",
          "create_approvals"
        ])
      } finally {
        await client.end()
      }
    } else {
      // The embedded database is reachable by its server only: stop it, then open its files.
      server.child.kill("SIGTERM")
      await server.exit()
      const { PGlite } = await import("@electric-sql/pglite")
      const db = new PGlite(path.join(database.env.ITL_DATA_DIR!, "pgdata"))
      try {
        expect((await db.query<{ table_name: string }>(query)).rows.map((r) => r.table_name)).toEqual(expected)
        expect((await db.query<{ name: string }>("SELECT name FROM migrations_example_inventory ORDER BY migration_id")).rows.map((r) => r.name)).toEqual([
          "create_tags",
          "create_approvals"
        ])
      } finally {
        await db.close()
      }
    }
  })
})
