/**
 * The real, unmodified `pulumi` CLI against the pulumi_state extension: one server and one login for
 * the file, one stack taken through its whole life (init, config, up, outputs, export/import,
 * history, tags, preview, refresh, destroy, rm). The tests run in order and build on each other.
 */
import * as crypto from "node:crypto"
import { readFile, rm, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { pulumiSession } from "../../../test-support/pulumi.js"
import { CLI_TEST_TIMEOUT, type CliBackend, secretCiphertexts, startCliBackend, storedText } from "./cliSupport.js"

const ORG = "itlusions"
const PROJECT = "itl-cli-test"
const STACK_PATH = `/api/stacks/${ORG}/${PROJECT}/dev`
const secret = `cli-secret-${crypto.randomBytes(12).toString("hex")}`

let backend: CliBackend
let dir: string
const pulumi = (args: ReadonlyArray<string>, options: { allowFailure?: boolean } = {}) => backend.cli.run(args, { cwd: dir, ...options })
const outputs = async (showSecrets: boolean) =>
  JSON.parse((await pulumi(["stack", "output", "--json", ...(showSecrets ? ["--show-secrets"] : [])])).stdout)
const history = async () => JSON.parse((await pulumi(["stack", "history", "--json"])).stdout) as Array<any>

beforeAll(async () => {
  backend = await startCliBackend()
  dir = await backend.cli.program("program")
})
afterAll(async () => {
  await backend?.stop()
})

describe("the real pulumi CLI against pulumi_state", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("logs in with PULUMI_ACCESS_TOKEN; a wrong token is refused and not stored", async () => {
    const who = await pulumi(["whoami", "--verbose"])
    expect(who.stdout).toMatch(/^User: itlusions$/m)
    const credentials = JSON.parse(await readFile(join(backend.cli.home, "credentials.json"), "utf8"))
    expect(credentials.current).toBe(backend.server.url)

    const stranger = await pulumiSession({ accessToken: `wrong-${crypto.randomBytes(16).toString("hex")}` })
    try {
      const refused = await stranger.run(["login", backend.server.url], { allowFailure: true })
      expect(refused.code).not.toBe(0)
      expect(refused.output).toMatch(/401|unauthorized|invalid/i)
      const credentials = await readFile(join(stranger.home, "credentials.json"), "utf8").catch(() => "{}")
      expect(credentials).not.toContain(backend.server.url.replace(/^http:\/\//, ""))
    } finally {
      await stranger.cleanup()
    }
  })

  it("stack init, stack ls, stack select", async () => {
    await pulumi(["stack", "init", "dev"])
    await pulumi(["stack", "init", "other"])
    const listed = JSON.parse((await pulumi(["stack", "ls", "--json"])).stdout) as Array<{ name: string; current: boolean }>
    // The CLI shows names relative to the default org; the last segment is the stack.
    expect(listed.map((s) => s.name.split("/").pop()).sort()).toEqual(["dev", "other"])
    expect(listed.find((s) => s.current)?.name).toMatch(/other$/)

    await pulumi(["stack", "select", "dev"])
    const after = JSON.parse((await pulumi(["stack", "ls", "--json"])).stdout) as Array<{ name: string; current: boolean }>
    expect(after.find((s) => s.current)?.name).toMatch(/dev$/)

    const missing = await pulumi(["stack", "select", "nosuchstack"], { allowFailure: true })
    expect(missing.code).not.toBe(0)
    expect(missing.output).toContain("no stack named 'nosuchstack' found")

    const again = await pulumi(["stack", "init", "dev"], { allowFailure: true })
    expect(again.code).not.toBe(0)
    expect(again.output).toMatch(/already exists/)
  })

  it("config set --secret: the stack file holds the service's ciphertext, never the value", async () => {
    await pulumi(["config", "set", "greeting", "hi"])
    await pulumi(["config", "set", "--secret", "apiKey", secret])
    const file = await readFile(join(dir, "Pulumi.dev.yaml"), "utf8")
    expect(file).not.toContain(secret)
    const secure = /apiKey:\s*\n\s*secure: (\S+)/.exec(file)?.[1]
    expect(secure, file).toBeDefined()
    expect(Buffer.from(secure!, "base64").toString("utf8")).toMatch(/^v1:/)
    expect((await pulumi(["config", "get", "apiKey"])).stdout.trim()).toBe(secret)
    // Not only ASCII: the value goes to the server as bytes and comes back the same.
    await pulumi(["config", "set", "--secret", "motto", "pässwörd ✓ 密码"])
    expect((await pulumi(["config", "get", "motto"])).stdout.trim()).toBe("pässwörd ✓ 密码")
  })

  it("up runs the program (component, dynamic resources, outputs); the secret output comes back", async () => {
    const up = await pulumi(["up", "--yes", "--non-interactive"])
    expect(up.stdout).toMatch(/\+ 4 created/)
    expect(await outputs(true)).toEqual({ greeting: "hi", itemIds: ["item-hi-0", "item-hi-1"], keyLength: secret.length, apiKey: secret })
    const hidden = await outputs(false)
    expect(hidden.apiKey).toBe("[secret]")
    expect(JSON.stringify(hidden)).not.toContain(secret)
  })

  it("the checkpoint holds the secret as the service's v1 ciphertext; nothing stored has it in the clear", async () => {
    const exported = await backend.pulumiApi("GET", `${STACK_PATH}/export`)
    expect(exported.status).toBe(200)
    expect(exported.text).not.toContain(secret)
    const ciphertexts = secretCiphertexts(exported.body)
    // The root stack's apiKey output and the inputs and outputs of both items.
    expect(ciphertexts.length).toBeGreaterThanOrEqual(3)
    for (const ciphertext of ciphertexts) expect(Buffer.from(ciphertext, "base64").toString("utf8")).toMatch(/^v1:[A-Za-z0-9+/]+=*$/)

    const stored = await storedText(backend.server)
    expect(stored).toContain("item-hi-0") // the reader does see the state
    expect(stored).not.toContain(secret)
    expect(stored).not.toContain(Buffer.from(secret).toString("base64"))
  })

  it("stack history lists the update with its kind, result and changes", async () => {
    const updates = await history()
    expect(updates).toHaveLength(1)
    expect(updates[0]).toMatchObject({ kind: "update", result: "succeeded", version: 1, resourceChanges: { create: 4 } })
  })

  it("config refresh brings back a lost stack config file from the last update", async () => {
    await rm(join(dir, "Pulumi.dev.yaml"))
    await pulumi(["config", "refresh"])
    expect((await pulumi(["config", "get", "greeting"])).stdout.trim()).toBe("hi")
    expect((await pulumi(["config", "get", "apiKey"])).stdout.trim()).toBe(secret)
    expect(await readFile(join(dir, "Pulumi.dev.yaml"), "utf8")).not.toContain(secret)
  })

  it("stack tag set / ls / rm", async () => {
    await pulumi(["stack", "tag", "set", "owner", "team-a"])
    const tags = JSON.parse((await pulumi(["stack", "tag", "ls", "--json"])).stdout)
    expect(tags).toMatchObject({ owner: "team-a", "pulumi:project": PROJECT, "pulumi:runtime": "nodejs" })
    await pulumi(["stack", "tag", "rm", "owner"])
    const after = JSON.parse((await pulumi(["stack", "tag", "ls", "--json"])).stdout)
    expect(after.owner).toBeUndefined()
    expect(after["pulumi:project"]).toBe(PROJECT)
  })

  it("preview shows no changes and leaves the state and history alone", async () => {
    const before = await backend.pulumiApi("GET", `${STACK_PATH}/export`)
    const preview = await pulumi(["preview", "--non-interactive"])
    expect(preview.stdout).toMatch(/4 unchanged/)
    const after = await backend.pulumiApi("GET", `${STACK_PATH}/export`)
    expect(after.body).toEqual(before.body)
    expect((await history()).filter((u) => u.kind !== "preview")).toHaveLength(1)
  })

  it("stack export / import: a modified state imported is what export and stack output show; export --version", async () => {
    const file = join(backend.cli.workDir, "state.json")
    await pulumi(["stack", "export", "--file", file])
    const state = JSON.parse(await readFile(file, "utf8"))
    const root = state.deployment.resources.find((r: any) => r.type === "pulumi:pulumi:Stack")
    expect(root.outputs.greeting).toBe("hi")
    root.outputs.greeting = "imported"
    await writeFile(file, JSON.stringify(state))
    await pulumi(["stack", "import", "--file", file])

    const again = JSON.parse((await pulumi(["stack", "export"])).stdout)
    expect(again.deployment.resources.find((r: any) => r.type === "pulumi:pulumi:Stack").outputs.greeting).toBe("imported")
    const shown = await outputs(true)
    expect(shown).toMatchObject({ greeting: "imported", apiKey: secret })

    // Each version's state stays readable: version 1 is what the first up left, 2 the import.
    const rootOf = (text: string) => JSON.parse(text).deployment.resources.find((r: any) => r.type === "pulumi:pulumi:Stack")
    expect(rootOf((await pulumi(["stack", "export", "--version", "1"])).stdout).outputs.greeting).toBe("hi")
    expect(rootOf((await pulumi(["stack", "export", "--version", "2"])).stdout).outputs.greeting).toBe("imported")
    const missing = await pulumi(["stack", "export", "--version", "99"], { allowFailure: true })
    expect(missing.code).not.toBe(0)
  })

  it("stack import into another stack re-encrypts the secrets with that stack's key", async () => {
    const file = join(backend.cli.workDir, "state.json")
    const source = await backend.pulumiApi("GET", `${STACK_PATH}/export`)
    await pulumi(["stack", "init", "copy"])
    try {
      // --force: the CLI itself warns that the resources' URNs name another stack.
      await pulumi(["stack", "import", "--force", "--file", file])
      expect((await outputs(true)).apiKey).toBe(secret)
      const copied = await backend.pulumiApi("GET", `/api/stacks/${ORG}/${PROJECT}/copy/export`)
      expect(copied.body.deployment.secrets_providers.state).toMatchObject({ stack: "copy" })
      // Keys are per stack: none of the source's ciphertexts is reused.
      const sources = new Set(secretCiphertexts(source.body))
      const copies = secretCiphertexts(copied.body)
      expect(copies.length).toBeGreaterThanOrEqual(3)
      expect(copies.filter((c) => sources.has(c))).toEqual([])
      await pulumi(["stack", "rm", "--force", "--yes", "--non-interactive"])
    } finally {
      await pulumi(["stack", "select", "dev"])
    }
  })

  it("refresh and a second up run as updates of their own kinds", async () => {
    await pulumi(["refresh", "--yes", "--non-interactive"])
    const up = await pulumi(["up", "--yes", "--non-interactive"])
    expect(up.stdout).toMatch(/4 unchanged/)
    expect((await outputs(true)).greeting).toBe("hi")
    const kinds = (await history()).map((u) => [u.kind, u.result])
    expect(kinds.slice(0, 2)).toEqual([
      ["update", "succeeded"],
      ["refresh", "succeeded"]
    ])
  })

  it("stack rm of a stack with resources is refused with the CLI's message; stack rename; --force removes it", async () => {
    const refused = await pulumi(["stack", "rm", "--yes", "--non-interactive"], { allowFailure: true })
    expect(refused.code).not.toBe(0)
    expect(refused.output).toContain("still has resources; removal rejected")
    expect((await backend.pulumiApi("GET", STACK_PATH)).status).toBe(200)

    // A second stack with resources, removed with --force.
    await pulumi(["stack", "select", "other"])
    await pulumi(["config", "set", "--secret", "apiKey", "other-secret"])
    await pulumi(["up", "--yes", "--non-interactive", "--skip-preview"])
    // Renamed, the stack keeps its state, and the secrets in it still decrypt (the state names the stack
    // its secrets belong to, and the CLI asks that name).
    await pulumi(["stack", "rename", "renamed"])
    expect((await backend.pulumiApi("GET", `/api/stacks/${ORG}/${PROJECT}/other`)).status).toBe(404)
    expect((await outputs(true)).apiKey).toBe("other-secret")
    await pulumi(["stack", "rm", "--yes", "--force", "--non-interactive"])
    const gone = await backend.pulumiApi("GET", `/api/stacks/${ORG}/${PROJECT}/renamed`)
    expect(gone.status).toBe(404)
    expect(gone.body).toMatchObject({ code: 404 })
  })

  it("destroy empties the stack; then stack rm removes it and stack ls no longer lists it", async () => {
    await pulumi(["stack", "select", "dev"])
    const destroyed = await pulumi(["destroy", "--yes", "--non-interactive"])
    expect(destroyed.stdout).toMatch(/- 4 deleted/)
    expect(await outputs(false)).toEqual({})
    // Every real update of the stack, newest first, each with its own version; no dry run among them.
    const all = await history()
    expect(all.map((u) => [u.kind, u.result])).toEqual([
      ["destroy", "succeeded"],
      ["update", "succeeded"],
      ["refresh", "succeeded"],
      ["import", "succeeded"],
      ["update", "succeeded"]
    ])
    expect(all.map((u) => u.version)).toEqual([5, 4, 3, 2, 1])
    const page2 = JSON.parse((await pulumi(["stack", "history", "--json", "--page-size", "2", "--page", "2"])).stdout) as Array<any>
    expect(page2.map((u) => u.version)).toEqual([3, 2])
    expect(all[0].resourceChanges).toMatchObject({ delete: 4 })

    await pulumi(["stack", "rm", "--yes", "--non-interactive"])
    const listed = JSON.parse((await pulumi(["stack", "ls", "--json"])).stdout)
    expect(listed).toEqual([])
    expect((await backend.pulumiApi("GET", STACK_PATH)).status).toBe(404)
  })
})
