/**
 * `--help` of every group and command of the built binary, the commands of
 * the installed secret_vault extension included: the tree is taken from the
 * library (makeTree + loadCliExtensions, as the binary builds it) and each
 * node's help is checked for what an operator reads first: the full usage
 * line, a one-line summary, an example, the global options, 100 columns, no
 * colour in a pipe, and no doubled words or filler. Under a pseudo-terminal
 * headings are bold, unless NO_COLOR is set.
 */
import { describe, expect, it } from "vitest"
import { loadCliExtensions, makeTree } from "../dist/index.js"
import type { NodeDescriptor } from "../dist/framework/spec.js"
import { ANSI, cleanEnv, cli, onTerminal, type Run } from "./support.js"

const extensions = await loadCliExtensions([], [], cleanEnv({}), "test")
const tree = makeTree(extensions)

/** Every node below the root, with the words that lead to it. */
const walk = (node: NodeDescriptor, path: ReadonlyArray<string>): ReadonlyArray<{ path: ReadonlyArray<string>; node: NodeDescriptor }> => [
  { path, node },
  ...(node.kind === "group" ? node.commands.flatMap((child) => walk(child, [...path, child.name])) : [])
]
const nodes = walk(tree, [])

const GLOBAL_FLAGS = ["--url URL", "--token TOKEN", "-o, --output FORMAT", "-q, --quiet", "--profile NAME", "--verbose", "-h, --help", "--version"]

/** The lines of the section titled `title` (up to the next blank line). */
const section = (text: string, title: string) => {
  const lines = text.split("\n")
  const start = lines.indexOf(`${title}:`)
  if (start === -1) return undefined
  const end = lines.indexOf("", start)
  return lines.slice(start + 1, end === -1 ? undefined : end)
}

/** Lines of a command wrapped for the terminal (` \` at the end of all but the last), as one line. */
const unwrap = (lines: ReadonlyArray<string>) => lines.join("\n").replace(/ \\\n\s+/g, " ")

/** The names in the Commands section (a wrapped summary continues on more-indented lines). */
const commandsListed = (text: string) =>
  (section(text, "Commands") ?? []).filter((line) => /^ {2}\S/.test(line)).map((line) => line.trim().split(/\s+/)[0])

/** Runs `task` over `items`, `limit` at a time (the machine has two cores; each run is a process). */
const pool = async <A, B>(items: ReadonlyArray<A>, limit: number, task: (item: A) => Promise<B>) => {
  const results: Array<B> = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await task(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: limit }, worker))
  return results
}

describe("attestation <command> --help", () => {
  it("the tree holds the core's commands and secret_vault's", () => {
    const names = nodes.map(({ path }) => path.join(" "))
    expect(names).toEqual(expect.arrayContaining(["machine approve", "operator token create", "secret list", "shared-secret rewrap", "agent secret get"]))
    expect(nodes.length).toBeGreaterThan(40)
  })

  it("is complete, within 100 columns, uncoloured in a pipe, for every group and command", async () => {
    const runs: ReadonlyArray<Run> = await pool(nodes, 4, ({ path }) => cli([...path, "--help"]))
    const problems: Array<string> = []
    nodes.forEach(({ path, node }, i) => {
      const run = runs[i]!
      const full = ["attestation", ...path].join(" ")
      const problem = (what: string) => problems.push(`${full}: ${what}`)
      if (run.code !== 0 || run.stderr !== "") return problem(`exit ${run.code}, stderr ${JSON.stringify(run.stderr)}`)
      const text = run.stdout
      const lines = text.trimEnd().split("\n")
      for (const line of lines) if (line.length > 100) problem(`line of ${line.length} columns: ${line}`)
      if (ANSI.test(text)) problem("ANSI escape in piped output")
      if (/[ \t]+$/m.test(text)) problem("trailing whitespace")
      // The first line is the one-line summary (the root's with its version).
      if (node.summary.trim() === "" || node.summary.includes("\n")) problem("no one-line summary")
      if (!lines[0]!.startsWith(node.summary)) problem(`first line is not the summary: ${lines[0]}`)
      const usage = section(text, "Usage")
      if (usage === undefined) return problem("no usage")
      const usageLine = unwrap(usage).trim()
      if (usageLine.includes("\n")) return problem("more than one usage line")
      if (!usageLine.startsWith(`${full} `)) problem(`usage line does not start with '${full}': ${usageLine}`)
      const doubled = /(?:^| )(\S+) \1(?= |$)/.exec(usageLine)
      if (doubled !== null) problem(`doubled word '${doubled[1]}' in the usage line: ${usageLine}`)
      // Each example as it would be pasted: its wrapped lines (` \` at the end) joined again.
      const examples = unwrap((section(text, "Examples") ?? []).filter((line) => !line.trim().startsWith("#")))
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== "")
      if (!examples.some((line) => /(^|[ (])attestation /.test(line))) problem("no example")
      if (JSON.stringify(examples) !== JSON.stringify(node.examples.map((e) => e.command))) problem(`examples shown differ: ${examples.join(" | ")}`)
      const globals = section(text, "Global options")?.join("\n") ?? ""
      for (const flag of GLOBAL_FLAGS) if (!globals.includes(flag)) problem(`global option ${flag} not listed`)
      if (node.kind === "group") {
        const listed = commandsListed(text)
        const children = node.commands.map((c) => c.name)
        if (JSON.stringify(listed) !== JSON.stringify(children)) problem(`commands listed ${listed.join(",")}, expected ${children.join(",")}`)
      } else {
        const options = section(text, "Options")?.join("\n") ?? ""
        for (const option of node.options) if (!options.includes(`--${option.name}`)) problem(`option --${option.name} not listed`)
        for (const option of node.options) if (option.description.trim() === "") problem(`option --${option.name} has no description`)
        const args = section(text, "Arguments")?.join("\n") ?? ""
        for (const arg of node.args) {
          if (!args.includes(arg.name) || arg.description.trim() === "") problem(`argument ${arg.name} not described`)
          if (!usageLine.includes(arg.optional ? `[${arg.name}]` : `<${arg.name}>`)) problem(`argument ${arg.name} not in the usage line`)
        }
      }
      for (const filler of ["A user-defined piece of text", "--wizard", "--completions", "--log-level"]) {
        if (text.includes(filler)) problem(`filler '${filler}'`)
      }
    })
    expect(problems).toEqual([])
  })

  it("the root help lists the same top-level commands as the library's tree", async () => {
    const help = await cli(["--help"])
    const listed = commandsListed(help.stdout)
    expect(listed).toEqual(tree.commands.map((c) => c.name))
    expect(listed).toEqual(expect.arrayContaining(["secret", "shared-secret"]))
  })

  it("bolds the headings on a terminal, and uses no colour with NO_COLOR", async () => {
    const [coloured, plain, dumb] = await Promise.all([
      onTerminal("attestation machine list --help"),
      onTerminal("attestation machine list --help", { NO_COLOR: "1" }),
      onTerminal("attestation machine list --help", { TERM: "dumb" })
    ])
    expect(coloured.code).toBe(0)
    expect(coloured.stdout).toContain("\u001b[1mUsage:\u001b[22m")
    expect(coloured.stdout).toContain("\u001b[1mGlobal options:\u001b[22m")
    for (const run of [plain, dumb]) {
      expect(run.code).toBe(0)
      expect(run.stdout).toContain("Usage:\n  attestation machine list [options]")
      expect(run.stdout).not.toMatch(ANSI)
    }
  })

  it("fits a terminal narrower than 100 columns", async () => {
    const run = await onTerminal("stty cols 60 && attestation operator token create --help", { NO_COLOR: "1" })
    expect(run.code).toBe(0)
    expect(unwrap(run.stdout.split("\n"))).toContain("attestation operator token create --name NAME --role ROLE [options]")
    const long = run.stdout.split("\n").filter((line) => line.length > 60 && !/^\s*\S+$/.test(line))
    expect(long).toEqual([])
  })
})
