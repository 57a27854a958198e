/**
 * Shell completion: the candidates `attestation __complete <words…>` gives
 * (commands, options, choice values, extension commands), and the scripts of
 * `attestation completion bash|zsh|fish` run in the real shells with the
 * binary on PATH.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { cli, ok, scratchDir, shell } from "./support.js"

const complete = async (...words: ReadonlyArray<string>) => ok(await cli(["__complete", ...words])).split("\n").filter((line) => line !== "")

const MACHINE_COMMANDS = ["list", "get", "register", "approve", "reject", "lock", "unlock", "revoke", "delete"]
const STATUSES = ["pending_approval", "approved", "attested", "rejected", "locked", "revoked"]

describe("attestation __complete", () => {
  it("completes command words at every level", async () => {
    expect(await complete("mach")).toEqual(["machine"])
    expect(await complete("machine", "ap")).toEqual(["approve"])
    expect(await complete("machine", "")).toEqual(MACHINE_COMMANDS)
    expect(await complete("operator", "token", "c")).toEqual(["create"])
    expect(await complete("machine", "approve", "")).toEqual([])
  })

  it("completes option names after -, the command's and the global ones", async () => {
    const options = await complete("machine", "list", "--")
    expect(options).toEqual(expect.arrayContaining(["--status", "--hostname", "--all", "--limit", "--offset", "--url", "--token", "--output", "--verbose"]))
    expect(await complete("machine", "list", "--st")).toEqual(["--status"])
    expect(await complete("machine", "-")).toEqual(expect.arrayContaining(["--url", "--output"]))
    expect(await complete("machine", "-")).not.toContain("--status")
  })

  it("completes the values of a choice option, and skips over option values", async () => {
    expect(await complete("machine", "list", "--status", "")).toEqual(STATUSES)
    expect(await complete("machine", "list", "--status", "a")).toEqual(["approved", "attested"])
    expect(await complete("-o", "")).toEqual(["table", "json", "yaml", "id"])
    expect(await complete("machine", "list", "--output", "y")).toEqual(["yaml"])
    // A value that looks like a command word is not taken for one.
    expect(await complete("--url", "machine", "mach")).toEqual(["machine"])
    expect(await complete("--url", "http://x", "machine", "l")).toEqual(["list", "lock"])
    // A free-text option's value gets no candidates.
    expect(await complete("machine", "list", "--hostname", "")).toEqual([])
  })

  it("completes the commands of extensions", async () => {
    expect(await complete("sec")).toEqual(["secret"])
    expect(await complete("sh")).toEqual(["shared-secret"])
    expect(await complete("shared-secret", "g")).toEqual(["grant"])
    expect(await complete("agent", "s")).toEqual(["status", "secret"])
    expect(await complete("agent", "secret", "")).toEqual(["get"])
  })
})

describe("attestation completion", () => {
  it("bash: the function fills COMPREPLY", async () => {
    const run = await shell(
      "bash",
      `source <(attestation completion bash)
complete -p attestation
COMP_WORDS=(attestation machine ap); COMP_CWORD=2; _attestation_complete; printf '1:%s\\n' "\${COMPREPLY[@]}"
COMP_WORDS=(attestation machine list --status ""); COMP_CWORD=4; _attestation_complete; printf '2:%s\\n' "\${COMPREPLY[@]}"
COMP_WORDS=(attestation sha); COMP_CWORD=1; _attestation_complete; printf '3:%s\\n' "\${COMPREPLY[@]}"`
    )
    expect(run.stderr).toBe("")
    expect(run.code).toBe(0)
    const lines = run.stdout.trim().split("\n")
    expect(lines[0]).toBe("complete -o default -F _attestation_complete attestation")
    expect(lines.filter((l) => l.startsWith("1:"))).toEqual(["1:approve"])
    expect(lines.filter((l) => l.startsWith("2:"))).toEqual(STATUSES.map((s) => `2:${s}`))
    expect(lines.filter((l) => l.startsWith("3:"))).toEqual(["3:shared-secret"])
  })

  it("bash: words from the command line are data, never run", async () => {
    const marker = path.join(scratchDir("marker"), "ran")
    const run = await shell(
      "bash",
      `source <(attestation completion bash)
COMP_WORDS=(attestation '$(touch ${marker})' '\`touch ${marker}\`' ''); COMP_CWORD=3; _attestation_complete; printf '%s\\n' "\${COMPREPLY[@]}"`
    )
    expect(run.code).toBe(0)
    expect(fs.existsSync(marker)).toBe(false)
  })

  it("zsh: the function adds the candidates (compadd and compdef stubbed)", async () => {
    const run = await shell(
      "zsh",
      `compdef() { print -r -- "compdef $*"; }
compadd() { [[ $1 == -a ]] && print -rl -- "\${(@P)2}"; }
source <(attestation completion zsh)
words=(attestation machine ap); CURRENT=3; _attestation_complete
words=(attestation machine list --status a); CURRENT=5; _attestation_complete
words=(attestation secr); CURRENT=2; _attestation_complete`
    )
    expect(run.stderr).toBe("")
    expect(run.code).toBe(0)
    expect(run.stdout.trim().split("\n")).toEqual(["compdef _attestation_complete attestation", "approve", "approved", "attested", "secret"])
  })

  it("fish: complete -C gives the candidates", async () => {
    const home = scratchDir("fish-home")
    const run = await shell(
      "fish",
      `attestation completion fish | source
complete -C "attestation mach"
complete -C "attestation machine ap"
complete -C "attestation machine list --status pen"
complete -C "attestation shared-secret gr"`,
      { HOME: home, XDG_DATA_HOME: path.join(home, "data"), XDG_CONFIG_HOME: path.join(home, "config") }
    )
    expect(run.stderr).toBe("")
    expect(run.code).toBe(0)
    expect(run.stdout.trim().split("\n")).toEqual(["machine", "approve", "pending_approval", "grant"])
  })
})
