/**
 * Broken extensions, found the way an operator's would be (modules on disk
 * named in ITL_EXTENSIONS, beside the installed packages, and an installed
 * package in the working directory's node_modules): one that throws at
 * import, one that does not parse, one whose layer fails, one whose migration fails, one built for
 * another core, and one reusing a loaded extension's name. Each is reported
 * as exactly `[Extension] Failed to load <name>: <reason>` on the server's
 * output and left out; the server and the other extensions work.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshDatabase, type FreshDatabase } from "../../../test-support/database.js"
import { killAll, request, spawnServe, type Spawned } from "./spawned.js"

const ROOT = path.resolve(__dirname, "../../..")

const MODULES: Record<string, string> = {
  "throws.js": `throw new Error("the module is broken: cannot read ./config.json")\n`,
  "layer.js": `import { defineExtension } from "@itl-attestation/core"
import { Effect, Layer } from "effect"
export default defineExtension({
  name: "layer_fails", version: "1.0.0", description: "its layer fails", core: "^2.0.0",
  layer: Layer.effectDiscard(Effect.fail(new Error("upstream inventory unreachable")))
})
`,
  "migration.js": `import { defineExtension } from "@itl-attestation/core"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
export default defineExtension({
  name: "migration_fails", version: "1.0.0", description: "its migration fails", core: "^2.0.0",
  migrations: { "0001_oops": Effect.flatMap(SqlClient.SqlClient, (sql) => sql\`CREATE TABLE extension_migration_fails (\`) }
})
`,
  "future.js": `import { defineExtension } from "@itl-attestation/core"
export default defineExtension({ name: "future_core", version: "1.0.0", description: "built for a later core", core: "^99.0.0" })
`,
  // secret_vault is installed (a workspace package declaring attestationExtensions) and loads first.
  "duplicate.js": `import { defineExtension } from "@itl-attestation/core"
export default defineExtension({ name: "secret_vault", version: "9.9.9", description: "an impostor", core: "^2.0.0" })
`
}

/** An installed package (in the server's working directory) whose declared module does not parse. */
const UNPARSEABLE = { name: "@broken-ext/syntax", module: "dist/index.js", source: "export default {\n  oops oops\n}\n" }

let dir: string
let cwd: string
let database: FreshDatabase
let server: Spawned
const adminToken = `admin-${crypto.randomBytes(16).toString("hex")}`

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-broken-"))
  // The modules import the platform as an installed extension would.
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"))
  for (const [file, source] of Object.entries(MODULES)) fs.writeFileSync(path.join(dir, file), source)
  cwd = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "itl-broken-cwd-")))
  const packageDir = path.join(cwd, "node_modules", UNPARSEABLE.name)
  fs.mkdirSync(path.join(packageDir, path.dirname(UNPARSEABLE.module)), { recursive: true })
  fs.writeFileSync(
    path.join(packageDir, "package.json"),
    JSON.stringify({ name: UNPARSEABLE.name, version: "1.0.0", type: "module", attestationExtensions: [`./${UNPARSEABLE.module}`] })
  )
  fs.writeFileSync(path.join(packageDir, UNPARSEABLE.module), UNPARSEABLE.source)
  database = await freshDatabase()
  server = await spawnServe({
    ...database.env,
    ITL_ADMIN_TOKEN: adminToken,
    ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex"),
    ITL_LOG_LEVEL: "warning",
    ITL_EXTENSIONS: Object.keys(MODULES).map((file) => path.join(dir, file)).join(",")
  }, { cwd })
  await server.waitFor(/^Extensions: .*$/m, 110_000)
  // The banner is written line by line: wait for all six failure lines, not just the one before them.
  await server.waitFor(/(?:^\[Extension\][^\n]*\n[\s\S]*?){6}/m)
}, 150_000)

afterAll(async () => {
  killAll()
  await database?.cleanup()
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  if (cwd !== undefined) fs.rmSync(cwd, { recursive: true, force: true })
})

describe("broken extensions", () => {
  it("each gives exactly one `[Extension] Failed to load <name>: <reason>` line", () => {
    const lines = server.output().stdout.split("\n").filter((line) => line.startsWith("[Extension]"))
    expect(lines).toHaveLength(6)
    expect(lines).toEqual(
      expect.arrayContaining([
        // Which module, from where, and the import error itself (with its class when it says something).
        `[Extension] Failed to load ${path.join(dir, "throws.js")}: cannot import ${path.join(dir, "throws.js")}: the module is broken: cannot read ./config.json`,
        `[Extension] Failed to load ${UNPARSEABLE.name}: cannot import ${path.join(cwd, "node_modules", UNPARSEABLE.name, UNPARSEABLE.module)}: SyntaxError: Unexpected identifier 'oops'`,
        "[Extension] Failed to load layer_fails: upstream inventory unreachable",
        expect.stringMatching(/^\[Extension\] Failed to load migration_fails: \S.*$/),
        "[Extension] Failed to load future_core: it requires @itl-attestation/core ^99.0.0; this is 2.0.0",
        "[Extension] Failed to load secret_vault: another extension with the same name is already loaded"
      ])
    )
  })

  it("leaves them out and serves the rest", async () => {
    const listed = JSON.parse((await request(server.url, { path: "/api/v1/extensions" })).body)
    const names = listed.extensions.map((e: { name: string }) => e.name)
    expect(names).toContain("secret_vault")
    for (const broken of ["layer_fails", "migration_fails", "future_core"]) expect(names).not.toContain(broken)
    // The secret_vault that loaded is the real one, and it answers.
    expect(listed.extensions.find((e: { name: string }) => e.name === "secret_vault").version).toBe("2.0.0")
    const shared = await request(server.url, { path: "/api/v1/shared-secrets", headers: { authorization: `Bearer ${adminToken}` } })
    expect(shared.status).toBe(200)
    expect((await request(server.url, { path: "/api/v1/machines", headers: { authorization: `Bearer ${adminToken}` } })).status).toBe(200)
  })
})
