/**
 * README.md's commands are true: its blocks marked `<!-- runnable … -->` run
 * as written (the marker states what differs: a port, a data directory, the
 * database URL), in order, on this checkout — `npm start` in the background,
 * the "other terminal" block against it, the production command on a fresh
 * PostgreSQL database. The grammar of the markers is in test-support/readme.ts.
 *
 * The production command needs PostgreSQL: it uses TEST_DATABASE_URL's server
 * when set, else the local server .ci/run always starts
 * (postgresql://postgres:postgres@127.0.0.1:5432) — it does not skip.
 *
 * The walk from a fresh clone (`git clone` of HEAD, `npm ci`, then the same
 * blocks) runs only when TEST_DATABASE_URL is unset: it takes about a minute,
 * the quick start uses the embedded database whatever the test database is,
 * and .ci/run runs the suite on each database, so once per CI run is enough.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { type FreshDatabase, LOCAL_POSTGRES_URL, postgresDatabase } from "../../../test-support/database.js"
import { type Block, runnableBlocks, scriptOf, walk } from "../../../test-support/readme.js"
import { freePort } from "./spawned.js"

const ROOT = path.resolve(__dirname, "../../..")
const README = fs.readFileSync(path.join(ROOT, "README.md"), "utf8")

const databases: Array<FreshDatabase> = []
const temporary: Array<string> = []
const tempDir = (prefix: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  temporary.push(dir)
  return dir
}
/** One walk's values: each walk is a new reader, with a new database (the production keys are new each time). */
const values = async () => {
  const database = await postgresDatabase(process.env.TEST_DATABASE_URL || LOCAL_POSTGRES_URL)
  databases.push(database)
  return { "<port>": String(await freePort()), "<data dir>": tempDir("itl-readme-data-"), "<database>": database.url! }
}

afterAll(async () => {
  for (const database of databases) await database.cleanup()
  for (const dir of temporary) fs.rmSync(dir, { recursive: true, force: true })
})

describe("the runnable markers", () => {
  const blocks = runnableBlocks(README)

  it("mark the quick start, the commands from another terminal and the production command", () => {
    const sources = blocks.map((b) => b.source)
    expect(sources.some((s) => /^npm ci\b/m.test(s))).toBe(true)
    expect(sources.some((s) => /^npm start\b/m.test(s))).toBe(true)
    expect(sources.some((s) => /^\.\/attestation machine list$/m.test(s))).toBe(true)
    expect(sources.some((s) => /ITL_DATABASE_URL=postgresql:.* npm start$/m.test(s))).toBe(true)
  })

  it("change only what they state: the text differs by the stated replacements alone", () => {
    const stated: Record<string, string> = { "<port>": "PORT", "<data dir>": "DIR", "<database>": "URL" }
    for (const block of blocks) {
      let expected = block.source
      for (const [literal, value] of block.replacements) expected = expected.split(literal).join(stated[value]!)
      expect(scriptOf(block, stated), `README.md:${block.line}`).toBe(expected)
    }
  })

  it("refuse a marker they cannot read, rather than running the block some other way", () => {
    expect(() => runnableBlocks("<!-- runnable: ITL_PORT -->\n```sh\ntrue\n```\n")).toThrow(/cannot read the runnable marker item "ITL_PORT"/)
    expect(() => runnableBlocks("<!-- runnable -->\n```\ntrue\n```\n")).toThrow(/right before a ```sh fence/)
    const [replacing] = runnableBlocks('<!-- runnable: "9001" → <port> -->\n```sh\ncurl localhost:9000\n```\n') as [Block]
    expect(() => scriptOf(replacing, { "<port>": "1" })).toThrow(/replaces "9001", which the block does not contain/)
  })
})

describe("README.md on this checkout", () => {
  it("runs every runnable block as written (quick start against `npm start`, then the production command)", async () => {
    const runs = await walk(runnableBlocks(README), { cwd: ROOT, values: await values(), clone: false })
    // Each server was stopped by Ctrl-C: `npm start` ends as a shell reports an interrupted command (130),
    // not with an error of its own; and the second one could listen on the port of the first.
    const servers = runs.filter((r) => r.block.background !== undefined)
    expect(servers.map((s) => s.code)).toEqual([130, 130])
    expect(servers[0]!.stdout).toMatch(/Database: PGlite at /)
    expect(servers[1]!.stdout).toMatch(/^Database: postgresql:\/\/.*\(postgres\)$/m)
    const operator = runs.find((r) => /machine approve/.test(r.block.source))!
    expect(operator.stdout).toMatch(/approved/)
  }, 300_000)
})

// Once per CI run: see the comment at the top.
describe.runIf(!process.env.TEST_DATABASE_URL)("README.md from a fresh clone", () => {
  it("walks the quick start exactly as written: npm ci builds once, npm start does not rebuild", async () => {
    const clone = tempDir("itl-readme-clone-")
    execFileSync("git", ["clone", "--quiet", ROOT, clone])
    // What tsc writes, and what the post-tsc steps make of it (the CLI's bundle).
    const builtFiles = ["packages/core/dist/index.js", "packages/cli/dist/cli.cjs"].map((f) => path.join(clone, f))
    const builtAt = () => builtFiles.map((f) => fs.statSync(f).mtimeMs)
    let afterInstall: Array<number> | undefined
    const runs = await walk(runnableBlocks(README), {
      cwd: clone,
      values: await values(),
      clone: true,
      afterBlock: (run) => {
        if (/^npm ci\b/m.test(run.block.source)) afterInstall = builtAt()
      }
    })
    const install = runs.find((r) => /^npm ci\b/m.test(r.block.source))!
    // npm shows the root's `prepare` output: the build says what it does and how long it took.
    expect(install.stdout + install.stderr).toMatch(/Building the TypeScript packages \(the first build takes about half a minute\)…/)
    expect(install.stdout + install.stderr).toMatch(/Built in \d+\.\d s\./)
    const start = runs.find((r) => /^npm start\b/m.test(r.block.source))!
    expect(start.stderr).toMatch(/Building the TypeScript packages \(only what changed\)…/)
    // npm start found everything built: nothing was written again.
    expect(afterInstall).toBeDefined()
    expect(builtAt()).toEqual(afterInstall)
  }, 600_000)
})
