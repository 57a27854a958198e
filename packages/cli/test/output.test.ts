/**
 * Output formats of the built binary against a live server: `-o json` and
 * `-o yaml` carry the same object, `-o id` and `-q` print only ids (so that
 * `id=$(attestation machine register … -o id)` feeds the next command in a
 * real shell), and `-o id` where a result has no ids is a usage error.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parse as parseYaml } from "yaml"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { cli, expectUsageError, json, ok, scratchDir, shell, type Run } from "./support.js"

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

let server: TestServer
let env: Record<string, string>
let asAdmin: (args: ReadonlyArray<string>) => Promise<Run>
let ekFile: string

beforeAll(async () => {
  server = await startServer()
  env = { ITL_URL: server.url, ITL_TOKEN: server.adminToken }
  asAdmin = (args) => cli(args, env)
  ekFile = path.join(scratchDir("ek"), "ek.pem")
  fs.writeFileSync(ekFile, fakeEkPem())
})

afterAll(async () => {
  await server?.stop()
})

describe("output formats", () => {
  let id: string

  it("registers, then approves by the id captured in a shell variable", async () => {
    const run = await shell(
      "bash",
      `set -euo pipefail
id=$(attestation machine register --hostname node-1 --ek-public "${ekFile}" -o id)
printf 'id=%s\\n' "$id"
attestation machine approve "$id" -o json`,
      env
    )
    expect(run.stderr).toBe("")
    expect(run.code).toBe(0)
    const [first, ...rest] = run.stdout.split("\n")
    id = /^id=(.*)$/.exec(first!)![1]!
    expect(id).toMatch(UUID)
    expect(JSON.parse(rest.join("\n"))).toMatchObject({ id, hostname: "node-1", status: "approved" })
  })

  it("registers the same EK again: the same id, and the table says nothing changed", async () => {
    const [again, table] = await Promise.all([
      asAdmin(["machine", "register", "--hostname", "node-1", "--ek-public", ekFile, "-o", "id"]),
      asAdmin(["machine", "register", "--hostname", "node-1", "--ek-public", ekFile])
    ])
    expect(ok(again)).toBe(`${id}\n`)
    expect(ok(table)).toMatch(/already registered: nothing changed/)
  })

  it("reads the EK from stdin with --ek-public -; a missing file is one line naming it", async () => {
    const second = `${ekFile}.2`
    fs.writeFileSync(second, fakeEkPem())
    const [fromStdin, missing] = await Promise.all([
      shell("bash", `attestation machine register --hostname node-2 --ek-public - -q < "${second}"`, env),
      asAdmin(["machine", "register", "--hostname", "node-3", "--ek-public", `${ekFile}.missing`])
    ])
    expect(ok(fromStdin)).toMatch(/^[0-9a-f-]{36}\n$/)
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/^attestation: cannot read the EK public key from \S+ek\.pem\.missing: ENOENT/)
  })

  it("prints the same object as JSON and as YAML", async () => {
    const pairs = await Promise.all(
      [
        ["machine", "get", id],
        ["machine", "list"],
        ["operator", "token", "list"],
        ["audit", "list", "--limit", "3"],
        ["audit", "verify"],
        ["extensions", "list"]
      ].map((args) => Promise.all([asAdmin(["-o", "json", ...args]), asAdmin([...args, "--output", "yaml"])]))
    )
    for (const [asJson, asYaml] of pairs) {
      const value = json(asJson)
      expect(parseYaml(ok(asYaml))).toEqual(value)
      expect(asYaml.stdout.trimStart()).not.toMatch(/^[{[]/)
    }
  })

  it("prints only ids with -o id and -q, one per line, the same as in the JSON", async () => {
    const [asJson, ids, quiet, oneQuiet] = await Promise.all([
      asAdmin(["-o", "json", "machine", "list"]),
      asAdmin(["machine", "list", "-o", "id"]),
      asAdmin(["-q", "machine", "list"]),
      asAdmin(["machine", "get", id, "--quiet"])
    ])
    const expected = json(asJson).machines.map((m: { id: string }) => m.id)
    expect(expected).toHaveLength(2)
    expect(ok(ids)).toBe(`${expected.join("\n")}\n`)
    expect(ok(quiet)).toBe(ok(ids))
    expect(ok(oneQuiet)).toBe(`${id}\n`)
  })

  it("prints nothing with -o id when the list is empty", async () => {
    expect(ok(await asAdmin(["machine", "list", "--status", "revoked", "-o", "id"]))).toBe("")
  })

  it("feeds xargs: approve every pending machine by its ids", async () => {
    const run = await shell("bash", "attestation machine list --status pending_approval -q | xargs -r -n1 attestation machine approve -q", env)
    expect(run.stderr).toBe("")
    expect(run.code).toBe(0)
    expect(run.stdout.trim().split("\n")).toHaveLength(1)
    expect(json(await asAdmin(["-o", "json", "machine", "list", "--status", "pending_approval"])).total).toBe(0)
  })

  it("refuses -o id on a result without ids: a usage error", async () => {
    expectUsageError(await asAdmin(["audit", "verify", "-o", "id"]), "attestation audit verify", /has no ids; use -o json or -o table/)
  })

  it("uses the table by default, and the flag wins over nothing else (no ITL_OUTPUT)", async () => {
    const table = ok(await asAdmin(["machine", "list"]))
    expect(table.split("\n")[0]).toMatch(/^ID\s+HOSTNAME\s+STATUS/)
    expect(() => JSON.parse(table)).toThrow()
  })

  it("shows free text from the server in a table escaped: no escape sequence, CR or newline reaches the terminal", async () => {
    // Another operator's reason and token name: an escape that clears the screen and retitles the
    // terminal, a CR that would overwrite the line, a newline that would forge a row, a bidi override.
    const reason = "ok\u001b[2J\u001b]0;pwned\u0007\nstatus  approved\rX\u202e"
    const name = "ci\u001b[31mred\u009b"
    const approved = await api(server, server.adminToken).post(`/api/v1/machines/${id}/lock`, { reason })
    expect(approved.status, approved.text).toBe(200)
    const created = await api(server, server.adminToken).post("/api/v1/operators/tokens", { name, role: "viewer" })
    expect(created.status, created.text).toBe(201)
    const [details, tokens, asJson] = await Promise.all([
      asAdmin(["machine", "get", id]),
      asAdmin(["operator", "token", "list"]),
      asAdmin(["-o", "json", "machine", "get", id])
    ])
    for (const text of [ok(details), ok(tokens)]) expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/)
    expect(details.stdout).toContain("status_reason       ok\\u001b[2J\\u001b]0;pwned\\u0007\\nstatus  approved\\rX\\u202e\n")
    expect(details.stdout.split("\n").filter((line) => line.startsWith("status "))).toEqual(["status              locked"])
    const rows = tokens.stdout.trim().split("\n")
    expect(rows).toHaveLength(1 + 2 + 1)
    expect(rows.find((row) => row.startsWith(created.body.id))).toContain("ci\\u001b[31mred\\u009b")
    // Scripts still get the exact value.
    expect(json(asJson).status_reason).toBe(reason)
  })

  it("keeps a failure to one stderr line whatever the format", async () => {
    for (const format of ["json", "yaml", "id"]) {
      const run = await asAdmin(["-o", format, "machine", "get", "00000000-0000-4000-8000-000000000000"])
      expect(run.code).toBe(3)
      expect(run.stdout).toBe("")
      expect(run.stderr.trim().split("\n")).toHaveLength(1)
    }
  })
})
