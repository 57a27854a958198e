/**
 * Usage mistakes, as a hurried or careless operator makes them: each is
 * exit code 2 and one line `attestation: <what> (see '<command> --help')`
 * naming the option or argument, and nothing is sent to the server.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cli, expectUsageError, type Run } from "./support.js"

const ID = "0f6c2a5e-8d0b-4a57-9c1e-3b2f4d5a6e7f"

/** A server that only counts what reaches it: a usage error must send nothing. */
let server: http.Server
let url: string
let requests = 0

beforeAll(async () => {
  server = http.createServer((_request, response) => {
    requests++
    response.writeHead(500).end()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
})

const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<Run> => cli(args, { ITL_URL: url, ITL_TOKEN: "t", ...env })

/** [args, the command whose help is pointed to, what the line must say]. */
const CASES: ReadonlyArray<readonly [ReadonlyArray<string>, string, ...Array<RegExp>]> = [
  // Unknown words, with a suggestion when one is close.
  [["machine", "aprove", ID], "attestation machine", /unknown command 'aprove' for 'attestation machine'; did you mean 'approve'\?/],
  [["machin", "list"], "attestation", /unknown command 'machin' for 'attestation'; did you mean 'machine'\?/],
  [["operator", "token", "destroy"], "attestation operator token", /unknown command 'destroy'/],
  [["shared-secret", "grnt", "x"], "attestation shared-secret", /did you mean 'grant'\?/],
  [["machine", "list", "--colour", "red"], "attestation machine list", /unknown option '--colour' for 'attestation machine list'/],
  [["machine", "list", "--limt", "5"], "attestation machine list", /unknown option '--limt'.*did you mean '--limit'\?/],
  [["machine", "list", "-x"], "attestation machine list", /unknown option '-x'/],
  // Values missing or wrong.
  [["machine", "list", "--limit"], "attestation machine list", /option --limit needs a value/],
  [["machine", "list", "--limit", "many"], "attestation machine list", /--limit: expected an integer from 1 to 500, got 'many'/],
  [["machine", "list", "--limit", "0"], "attestation machine list", /--limit: expected an integer from 1 to 500, got '0'/],
  [["machine", "list", "--limit", "501"], "attestation machine list", /--limit: .* got '501'/],
  [["machine", "list", "--limit", "1.5"], "attestation machine list", /--limit: .* got '1\.5'/],
  [["machine", "list", "--limit", "99999999999999999999"], "attestation machine list", /--limit: expected an integer/],
  // The word after an option is its value, even one starting with a dash.
  [["machine", "list", "--offset", "-1"], "attestation machine list", /--offset: .*got '-1'/],
  [["machine", "list", "--offset=-1"], "attestation machine list", /--offset: .*got '-1'/],
  [["machine", "list", "--status", "sleeping"], "attestation machine list", /--status: expected one of pending_approval, .*, got 'sleeping'/],
  [["machine", "list", "-o", "xml"], "attestation machine list", /--output: expected one of table, json, yaml, id, got 'xml'/],
  [["machine", "get", "--watch", ID, "--interval", "0"], "attestation machine get", /--interval: expected an integer from 1 to 3600, got '0'/],
  [["machine", "list", "--all=yes"], "attestation machine list", /option --all takes no value/],
  [["machine", "get", "not-a-uuid"], "attestation machine get", /<id>: expected a UUID, got 'not-a-uuid'/],
  [["machine", "get", "1; rm -rf /"], "attestation machine get", /<id>: expected a UUID/],
  [["machine", "get"], "attestation machine get", /<id>: required \(Machine id/],
  [["machine", "get", ID, "extra"], "attestation machine get", /unexpected argument 'extra'/],
  [["audit", "verify", "now"], "attestation audit verify", /unexpected argument 'now' \(this command takes none\)/],
  // Required options.
  [["machine", "register", "--ek-public", "ek.pem"], "attestation machine register", /--hostname: is required/],
  [["operator", "token", "create", "--name", "ci"], "attestation operator token create", /--role: is required/],
  // A global option's value, from the flag or from its variable.
  [["--url", "ftp://example.com", "machine", "list"], "attestation machine list", /--url: expected an http\(s\) URL, got 'ftp:\/\/example\.com'/],
  [["--profile", "../etc", "machine", "list"], "attestation machine list", /--profile: expected letters, digits/],
  // An extension's commands get the same checks.
  [["secret", "list", "nope"], "attestation secret list", /<machine-id>: expected a UUID, got 'nope'/],
  [["secret", "get", ID, "x", "--ek-fingerprint", "md5:00"], "attestation secret get", /--ek-fingerprint: expected sha256: and 64 hex digits/],
  [["shared-secret", "grant", "ca-key"], "attestation shared-secret grant", /--machines: is required/],
  [["completion", "powershell"], "attestation completion", /<shell>: expected one of bash, zsh, fish, got 'powershell'/]
]

describe("usage errors", () => {
  it.each(CASES)("%j", async (args, command, ...patterns) => {
    expectUsageError(await run(args), command, ...patterns)
  })

  it("names the variable when the bad value came from it", async () => {
    expectUsageError(await run(["machine", "list"], { ITL_URL: "localhost:9000" }), "attestation machine list", /ITL_URL \(for --url\): expected an http\(s\) URL/)
  })

  it("shows a control character in a value escaped, not raw", async () => {
    const result = await run(["machine", "get", "abc\u001b[31mred"])
    expectUsageError(result, "attestation machine get", /expected a UUID/)
    expect(result.stderr).not.toContain("\u001b")
  })

  it("sent nothing to the server for any of them", () => {
    expect(requests).toBe(0)
  })
})
