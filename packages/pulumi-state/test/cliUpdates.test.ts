/**
 * The real `pulumi` CLI with an update held in progress: the test program's `gate` resource waits in
 * create() until a file exists, so the test decides when the update may finish (no clock involved).
 * Two concurrent `up` on one stack, and `pulumi cancel` of a running update.
 */
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { releaseFile, waitForFile } from "../../../test-support/pulumi.js"
import { CLI_TEST_TIMEOUT, type CliBackend, startCliBackend } from "./cliSupport.js"

let backend: CliBackend
let dir: string
let gates = 0
const pulumi = (args: ReadonlyArray<string>, options: { allowFailure?: boolean } = {}) => backend.cli.run(args, { cwd: dir, ...options })

/** Points the stack's gate at a new file; returns its path (release it with releaseFile). */
const newGate = async () => {
  const gate = join(backend.cli.workDir, `gate-${++gates}`)
  await pulumi(["config", "set", "gate", gate])
  return gate
}

beforeAll(async () => {
  backend = await startCliBackend()
  dir = await backend.cli.program("program")
  await pulumi(["stack", "init", "busy"])
  await pulumi(["config", "set", "--secret", "apiKey", "updates-secret"])
})
afterAll(async () => {
  await backend?.stop()
})

describe("updates in progress, with the real pulumi CLI", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("a second `up` on a stack with an update running fails with the CLI's update-conflict message", async () => {
    const gate = await newGate()
    const first = backend.cli.start(["up", "--yes", "--non-interactive", "--skip-preview"], { cwd: dir })
    try {
      await waitForFile(`${gate}.started`, "the gate resource started", first)

      const second = await pulumi(["up", "--yes", "--non-interactive"], { allowFailure: true })
      expect(second.code).not.toBe(0)
      // ConflictingUpdateError: the CLI prints it only for a 409 on starting the update.
      expect(second.output).toContain("update-conflicts")
      expect(second.output).toContain("[409]")

      // The stack lists as busy while the first runs.
      const listed = JSON.parse((await pulumi(["stack", "ls", "--json"])).stdout) as Array<{ name: string; updateInProgress?: boolean }>
      expect(listed.find((s) => s.name.endsWith("busy"))?.updateInProgress).toBe(true)
    } finally {
      // Never leave the update hanging for the next test, whatever failed above.
      await releaseFile(gate)
    }
    const result = await first.done
    expect(result.stdout).toMatch(/\+ 5 created/)
    const history = JSON.parse((await pulumi(["stack", "history", "--json"])).stdout) as Array<any>
    expect(history.map((u) => [u.kind, u.result])).toEqual([["update", "succeeded"]])
  })

  it("cancel stops the update in progress; the stack then takes a new update", async () => {
    const gate = await newGate()
    const running = backend.cli.start(["up", "--yes", "--non-interactive", "--skip-preview"], { cwd: dir, allowFailure: true })
    try {
      await waitForFile(`${gate}.started`, "the gate resource started", running)
      const cancel = await pulumi(["cancel", "--yes", "--non-interactive"])
      expect(cancel.stdout).toContain("has been canceled!")
    } finally {
      // The program is still waiting; once it goes on, the CLI finds its update gone and fails.
      await releaseFile(gate)
    }
    const result = await running.done
    expect(result.code).not.toBe(0)

    const history = JSON.parse((await pulumi(["stack", "history", "--json"])).stdout) as Array<any>
    expect(history[0]).toMatchObject({ kind: "update" })
    expect(history[0].result).not.toBe("succeeded")

    // The lock is free again: a new up (the gate file exists now) succeeds.
    await pulumi(["up", "--yes", "--non-interactive"])
    const after = JSON.parse((await pulumi(["stack", "history", "--json"])).stdout) as Array<any>
    expect(after[0]).toMatchObject({ kind: "update", result: "succeeded" })

    const nothing = await pulumi(["cancel", "--yes", "--non-interactive"], { allowFailure: true })
    expect(nothing.code).not.toBe(0)
  })

  it("destroy and stack rm finish the stack", async () => {
    await pulumi(["destroy", "--yes", "--non-interactive", "--skip-preview"])
    await pulumi(["stack", "rm", "--yes", "--non-interactive"])
  })
})

describe("a state over the delta cutoff, with the real pulumi CLI", { timeout: CLI_TEST_TIMEOUT }, () => {
  /** The checkpoint calls of a CLI run, from its request log (-v=10 logs URLs and status codes, no bodies). */
  const checkpointCalls = (stderr: string) =>
    [...stderr.matchAll(/Pulumi API call response code \(\S+\/update\/[^/\s]+\/(checkpoint\w*)\): (\d+)/g)].map((m) => `${m[1]} ${m[2]}`)

  it("up saves its checkpoints as verbatim + deltas the server accepts; export and the next preview agree", async () => {
    await pulumi(["stack", "init", "large"])
    await pulumi(["config", "set", "--secret", "apiKey", "large-secret"])
    // Two items of 2 × 400 KiB each: about 1.6 MiB of state, over the 1 MiB cutoff the server advertises.
    await pulumi(["config", "set", "paddingKiB", "400"])
    await pulumi(["config", "set", "greeting", "bigger"])
    const up = await pulumi(["up", "--yes", "--non-interactive", "--skip-preview", "--logtostderr", "-v=10"])
    const calls = checkpointCalls(up.stderr)
    // The first save is verbatim (the base); the saves after the items exist are deltas against it.
    expect(calls[0]).toMatch(/^checkpointverbatim /)
    expect(calls.filter((c) => c.startsWith("checkpointdelta ")).length, calls.join("\n")).toBeGreaterThan(0)
    // Every upload accepted: a refused delta would make the CLI fall back to verbatim, hiding the defect.
    expect(calls.filter((c) => !c.endsWith(" 200") && !c.endsWith(" 204")), calls.join("\n")).toEqual([])
    expect(up.stderr).not.toContain("falling back")

    const state = JSON.parse((await pulumi(["stack", "export"])).stdout)
    const items = state.deployment.resources.filter((r: any) => r.type === "pulumi-nodejs:dynamic:Resource")
    expect(items.map((r: any) => r.outputs.label).sort()).toEqual(["bigger-0", "bigger-1"])
    for (const item of items) expect(item.outputs.padding).toHaveLength(400 * 1024)
    const preview = await pulumi(["preview", "--non-interactive"])
    expect(preview.stdout).toMatch(/4 unchanged/)

    await pulumi(["destroy", "--yes", "--non-interactive", "--skip-preview"])
    await pulumi(["stack", "rm", "--yes", "--non-interactive"])
  })
})

describe("many stacks, with the real pulumi CLI", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("stack ls follows the continuation tokens to the last page", async () => {
    // More than a page of the server's listing, made over raw HTTP (the CLI would take a second each).
    const names = Array.from({ length: 130 }, (_, i) => `s${String(i).padStart(3, "0")}`)
    for (const stackName of names) {
      const created = await backend.pulumiApi("POST", "/api/stacks/itlusions/paging", { stackName })
      expect(created.status, created.text).toBe(200)
    }
    const listed = JSON.parse((await pulumi(["stack", "ls", "--all", "--json"])).stdout) as Array<{ name: string }>
    const paging = listed.map((s) => s.name).filter((name) => name.includes("paging/"))
    expect(paging.map((name) => name.split("/").pop()).sort()).toEqual(names)
  })
})
