/**
 * From argv to a command and its raw values. Command words are found first
 * (walking the tree; options may come before, between or after them), then
 * node:util's parseArgs reads the options of that command and the global ones
 * strictly. Values are checked later, by each option's own parser (bind.ts).
 */
import { parseArgs } from "node:util"
import { GLOBAL_OPTIONS } from "./globalOptions.js"
import { quote } from "./options.js"
import type { CommandDescriptor, NodeDescriptor, OptionDescriptor } from "./spec.js"
import { closest } from "./suggest.js"

export type Parsed =
  | { readonly kind: "help"; readonly path: ReadonlyArray<NodeDescriptor> }
  | { readonly kind: "version" }
  | {
      readonly kind: "run"
      readonly path: ReadonlyArray<NodeDescriptor>
      readonly command: CommandDescriptor
      /** By option name; absent when not given. */
      readonly values: Readonly<Record<string, string | boolean>>
      readonly positionals: ReadonlyArray<string>
    }
  | { readonly kind: "usage"; readonly path: ReadonlyArray<NodeDescriptor>; readonly message: string }

/** `attestation machine list`, the words that name a node. */
export const commandLine = (path: ReadonlyArray<NodeDescriptor>) => path.map((node) => node.name).join(" ")

const optionsOf = (node: NodeDescriptor): ReadonlyArray<OptionDescriptor> =>
  node.kind === "command" ? [...GLOBAL_OPTIONS, ...node.options] : GLOBAL_OPTIONS

const find = (options: ReadonlyArray<OptionDescriptor>, flag: string) => {
  const name = flag.replace(/=.*$/s, "")
  return options.find((o) => (name.startsWith("--") ? `--${o.name}` === name : o.short !== undefined && `-${o.short}` === name))
}

const isFlag = (word: string) => word.startsWith("-") && word !== "-"

export const parse = (root: NodeDescriptor, argv: ReadonlyArray<string>): Parsed => {
  const path: Array<NodeDescriptor> = [root]
  const rest: Array<string> = []
  let i = 0
  for (; i < argv.length; i++) {
    const word = argv[i]!
    const node = path[path.length - 1]!
    if (word === "--") break
    if (isFlag(word)) {
      const known = find(optionsOf(node), word)
      // A flag that takes a value, without `=`: the next word is its value (even one starting with a
      // dash, as `--reason -x`), not a command; passed on as `--name=value` so parseArgs reads it so too.
      if (known !== undefined && known.kind !== "boolean" && !word.includes("=") && !/^-[A-Za-z]./.test(word) && i + 1 < argv.length) {
        rest.push(`--${known.name}=${argv[++i]!}`)
      } else rest.push(word)
      continue
    }
    if (node.kind === "group") {
      const child = node.commands.find((c) => c.name === word)
      if (child === undefined) {
        if (wantsHelp(argv)) return { kind: "help", path }
        const suggestion = closest(word, node.commands.map((c) => c.name))
        return {
          kind: "usage",
          path,
          message: `unknown command ${quote(word)} for '${commandLine(path)}'${suggestion === undefined ? "" : `; did you mean '${suggestion}'?`}`
        }
      }
      path.push(child)
      continue
    }
    rest.push(word)
  }
  const afterDashes = argv.slice(i + 1)
  const target = path[path.length - 1]!
  if (rest.includes("--help") || rest.includes("-h")) return { kind: "help", path }
  if (rest.includes("--version")) return { kind: "version" }

  const options = optionsOf(target)
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(
        options.map((o) => [o.name, { type: o.kind === "boolean" ? ("boolean" as const) : ("string" as const), ...(o.short === undefined ? {} : { short: o.short }) }])
      )
    })
  } catch (error) {
    return { kind: "usage", path, message: explainParseError(error, path, options) }
  }
  const positionals = [...parsed.positionals, ...afterDashes]
  if (target.kind === "group") {
    // `attestation machine` alone shows its commands; a stray word was caught above.
    return positionals.length === 0 ? { kind: "help", path } : { kind: "usage", path, message: `unexpected ${quote(positionals[0]!)}` }
  }
  const values: Record<string, string | boolean> = {}
  for (const [name, value] of Object.entries(parsed.values)) {
    if (typeof value === "string" || typeof value === "boolean") values[name] = value
  }
  return { kind: "run", path, command: target, values, positionals }
}

const wantsHelp = (argv: ReadonlyArray<string>) => {
  const end = argv.indexOf("--")
  const before = end === -1 ? argv : argv.slice(0, end)
  return before.includes("--help") || before.includes("-h")
}

/** parseArgs' messages, rephrased with the command they apply to and a suggestion. */
const explainParseError = (error: unknown, path: ReadonlyArray<NodeDescriptor>, options: ReadonlyArray<OptionDescriptor>) => {
  const code = (error as { code?: unknown }).code
  const message = error instanceof Error ? error.message : String(error)
  const flag = /'(-{1,2}[A-Za-z0-9][A-Za-z0-9-]*)/.exec(message)?.[1] ?? ""
  const where = `'${commandLine(path)}'`
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const suggestion = flag.startsWith("--") ? closest(flag.slice(2), options.map((o) => o.name)) : undefined
    return `unknown option ${quote(flag)} for ${where}${suggestion === undefined ? "" : `; did you mean '--${suggestion}'?`}`
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const option = find(options, flag)
    if (option?.kind === "boolean") return `option --${option.name} takes no value`
    return `option ${flag} needs a value${option === undefined ? "" : ` (${option.placeholder})`}`
  }
  return message.split("\n")[0] ?? "invalid usage"
}
