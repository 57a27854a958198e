/**
 * docs/pulumi.md "Quick start", run with the real `pulumi` CLI. The seed's form
 * `stack init … --secrets-provider https://<host>` is refused by the CLI itself (it knows no `https`
 * secrets provider); the documented form (log in, then `stack init` with the default provider, which
 * for an HTTP backend is the server's own encrypt/decrypt) works.
 */
import * as crypto from "node:crypto"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CliBackend, startCliBackend } from "./cliSupport.js"

let backend: CliBackend
let dir: string
const pulumi = (args: ReadonlyArray<string>, options: { allowFailure?: boolean } = {}) => backend.cli.run(args, { cwd: dir, ...options })

beforeAll(async () => {
  backend = await startCliBackend({ ITL_PULUMI_ORG: "myorg" })
  dir = await backend.cli.program("program", { projectName: "myproject" })
})
afterAll(async () => {
  await backend?.stop()
})

describe("docs/pulumi.md quick start", () => {
  it("the seed's `--secrets-provider https://<host>` is refused by the CLI before it reaches the server", async () => {
    const refused = await pulumi(["stack", "init", "myorg/myproject/production", "--secrets-provider", backend.server.url.replace(/^http:/, "https:")], {
      allowFailure: true
    })
    expect(refused.code).not.toBe(0)
    expect(refused.output).toContain("unknown secrets provider type 'https'")
    expect((await backend.pulumiApi("GET", "/api/stacks/myorg/myproject/production")).status).toBe(404)
  })

  it("login, stack init, config set --secret, up: the secret is kept by the server and comes back", async () => {
    const password = `qs-${crypto.randomBytes(8).toString("hex")}`
    // `pulumi login <url>` ran in startCliBackend, as the first step of the quick start.
    await pulumi(["stack", "init", "myorg/myproject/production"])
    await pulumi(["config", "set", "--secret", "apiKey", password])
    expect(await readFile(join(dir, "Pulumi.production.yaml"), "utf8")).not.toContain(password)
    await pulumi(["up", "--yes"])
    const outputs = JSON.parse((await pulumi(["stack", "output", "--json", "--show-secrets"])).stdout)
    expect(outputs.apiKey).toBe(password)

    const exported = await backend.pulumiApi("GET", "/api/stacks/myorg/myproject/production/export")
    expect(exported.body.deployment.secrets_providers).toMatchObject({ type: "service" })
    expect(exported.text).not.toContain(password)
  })
})
