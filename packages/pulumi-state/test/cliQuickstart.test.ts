/**
 * docs/pulumi.md "Quick start", run with the real `pulumi` CLI: the commands of its first sh block, as
 * written (the example host replaced by the test server's URL). The seed's form
 * `stack init … --secrets-provider https://<host>` is refused by the CLI itself (it knows no `https`
 * secrets provider); the documented form (log in, then `stack init` with the default provider, which
 * for an HTTP backend is the server's own encrypt/decrypt) works.
 */
import { readFile } from "node:fs/promises"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CLI_TEST_TIMEOUT, type CliBackend, startCliBackend } from "./cliSupport.js"

const DOC = resolve(dirname(fileURLToPath(import.meta.url)), "../../../docs/pulumi.md")
const EXAMPLE_HOST = "https://attest.example.com"

let backend: CliBackend
let dir: string
const pulumi = (args: ReadonlyArray<string>, options: { allowFailure?: boolean } = {}) => backend.cli.run(args, { cwd: dir, ...options })

/** The `pulumi …` lines of the first sh block after "## Quick start", split as the shell would ('…' quoting only). */
const quickStart = async (): Promise<Array<Array<string>>> => {
  const doc = await readFile(DOC, "utf8")
  const section = doc.slice(doc.indexOf("## Quick start"))
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1]
  if (block === undefined) throw new Error("docs/pulumi.md: no sh block under ## Quick start")
  return block
    .split("\n")
    .filter((line) => line.startsWith("pulumi "))
    .map((line) => [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!).slice(1))
}

beforeAll(async () => {
  // Default settings: the org in the stack name is the user's choice, not ITL_PULUMI_ORG.
  backend = await startCliBackend()
  dir = await backend.cli.program("program", { projectName: "myproject" })
})
afterAll(async () => {
  await backend?.stop()
})

describe("docs/pulumi.md quick start", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("the seed's `--secrets-provider https://<host>` is refused by the CLI before it reaches the server", async () => {
    const https = backend.server.url.replace(/^http:/, "https:")
    const refused = await pulumi(["stack", "init", "myorg/myproject/production", "--secrets-provider", https], { allowFailure: true })
    expect(refused.code).not.toBe(0)
    expect(refused.output).toContain("unknown secrets provider type 'https'")
    expect((await backend.pulumiApi("GET", "/api/stacks/myorg/myproject/production")).status).toBe(404)
  })

  it("the documented commands work: the secret is kept by the server and comes back", async () => {
    const commands = await quickStart()
    expect(commands.map((args) => args[0])).toEqual(["login", "stack", "config", "up"])
    for (const args of commands) {
      const literal = args.map((arg) => (arg === EXAMPLE_HOST ? backend.server.url : arg))
      // No terminal here: the CLI wants --yes instead of asking.
      await pulumi(literal[0] === "up" ? [...literal, "--yes"] : literal)
    }
    const secret = commands.find((args) => args[0] === "config")!.at(-1)!
    expect(await readFile(join(dir, "Pulumi.production.yaml"), "utf8")).not.toContain(secret)
    const outputs = JSON.parse((await pulumi(["stack", "output", "--json", "--show-secrets"])).stdout)
    expect(outputs.apiKey).toBe(secret)

    const exported = await backend.pulumiApi("GET", "/api/stacks/myorg/myproject/production/export")
    expect(exported.body.deployment.secrets_providers).toMatchObject({ type: "service" })
    expect(exported.text).not.toContain(secret)
  })
})
