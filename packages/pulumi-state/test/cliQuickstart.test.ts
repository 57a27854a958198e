/**
 * docs/pulumi.md "Quick start", run with the real `pulumi` CLI: the commands of its first sh block, as
 * written (the example host replaced by the test server's URL). The seed's form
 * `stack init … --secrets-provider https://<host>` is refused by the CLI itself (it knows no `https`
 * secrets provider); the documented form (log in, then `stack init` with the default provider, which
 * for an HTTP backend is the server's own encrypt/decrypt) works. Then what the quick start says about a
 * team's own token: an operator token with the pulumi_state scopes, limited to one org, or read-only.
 */
import { readFile } from "node:fs/promises"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { pulumiSession } from "../../../test-support/pulumi.js"
import { api } from "../../../test-support/server.js"
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

describe("a team's own operator token, with the real pulumi CLI", { timeout: CLI_TEST_TIMEOUT }, () => {
  const operatorToken = async (name: string, scopes: ReadonlyArray<string>) => {
    const created = await api(backend.server, backend.server.adminToken).post("/api/v1/operators/tokens", { name, role: "operator", scopes })
    expect(created.status, created.text).toBe(201)
    return created.body as { id: string; token: string }
  }

  it("limited to one org: the CLI works in that org, and is refused anywhere else", async () => {
    const team = await operatorToken("team-a-ci", ["pulumi_state:read", "pulumi_state:write"])
    const limited = await api(backend.server, backend.server.adminToken).put(`/api/v1/pulumi/token-limits/${team.id}`, { org: "team-a" })
    expect(limited.status, limited.text).toBeLessThan(300)

    const session = await pulumiSession({ accessToken: team.token })
    try {
      const teamDir = await session.program("program", { projectName: "myproject" })
      const run = (args: ReadonlyArray<string>, allowFailure = false) => session.run(args, { cwd: teamDir, allowFailure })
      await run(["login", backend.server.url])
      expect((await run(["whoami"])).stdout.trim()).toBe("team-a")
      // An unqualified name lands in the token's org.
      await run(["stack", "init", "ci"])
      await run(["config", "set", "--secret", "apiKey", "team-secret"])
      await run(["up", "--yes", "--non-interactive", "--skip-preview"])
      expect((await backend.pulumiApi("GET", "/api/stacks/team-a/myproject/ci")).status).toBe(200)

      // The quick start's stack (myorg) is not the team's: not listed, not readable, not creatable.
      const listed = JSON.parse((await run(["stack", "ls", "--all", "--json"])).stdout) as Array<{ name: string }>
      expect(listed.map((s) => s.name)).toEqual([expect.stringMatching(/ci$/)])
      const other = await run(["stack", "select", "myorg/myproject/production"], true)
      expect(other.code).not.toBe(0)
      expect(other.output).toContain("403")
      const create = await run(["stack", "init", "myorg/myproject/intruder"], true)
      expect(create.code).not.toBe(0)
      expect((await backend.pulumiApi("GET", "/api/stacks/myorg/myproject/intruder")).status).toBe(404)

      await run(["destroy", "--yes", "--non-interactive", "--skip-preview"])
      await run(["stack", "rm", "--yes", "--non-interactive"])
    } finally {
      await session.cleanup()
    }
  })

  it("read-only: stack ls and outputs work, an update is refused and changes nothing", async () => {
    const reader = await operatorToken("auditor", ["pulumi_state:read"])
    const session = await pulumiSession({ accessToken: reader.token })
    try {
      await session.run(["login", backend.server.url], { cwd: dir })
      const listed = JSON.parse((await session.run(["stack", "ls", "--json"], { cwd: dir })).stdout) as Array<{ name: string }>
      expect(listed.map((s) => s.name)).toContainEqual(expect.stringMatching(/production$/))
      await session.run(["stack", "select", "myorg/myproject/production"], { cwd: dir })
      const outputs = JSON.parse((await session.run(["stack", "output", "--json", "--show-secrets"], { cwd: dir })).stdout)
      expect(outputs.itemIds).toHaveLength(2)

      const before = await backend.pulumiApi("GET", "/api/stacks/myorg/myproject/production/updates?pageSize=10&page=1")
      const up = await session.run(["up", "--yes", "--non-interactive", "--skip-preview"], { cwd: dir, allowFailure: true })
      expect(up.code).not.toBe(0)
      expect(up.output).toContain("403")
      const after = await backend.pulumiApi("GET", "/api/stacks/myorg/myproject/production/updates?pageSize=10&page=1")
      expect(after.body).toEqual(before.body)
    } finally {
      await session.cleanup()
    }
  })
})
