/**
 * The command reference in Markdown, generated from the command definitions
 * (docs/cli.md below its marker; a test fails when the file differs), so the
 * documentation cannot drift from the commands.
 */
import { EXIT_CODE_MEANINGS } from "../exitCodes.js"
import { GLOBAL_OPTIONS } from "./globalOptions.js"
import { flagText, optionText } from "./help.js"
import { commandLine } from "./parse.js"
import type { CommandDescriptor, NodeDescriptor } from "./spec.js"

/** docs/cli.md is hand-written above this line and generated below it. */
export const REFERENCE_MARKER =
  "<!-- Everything below is generated from the command definitions by `npm run docs:cli`; a test fails when it differs. -->"

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ")

const leaves = (path: ReadonlyArray<NodeDescriptor>): ReadonlyArray<ReadonlyArray<NodeDescriptor>> => {
  const node = path[path.length - 1]!
  return node.kind === "group" ? node.commands.flatMap((child) => leaves([...path, child])) : [path]
}

const usage = (path: ReadonlyArray<NodeDescriptor>, command: CommandDescriptor) =>
  [
    commandLine(path),
    ...command.args.map((a) => (a.optional ? `[${a.name}]` : `<${a.name}>`)),
    ...command.options.filter((o) => o.required).map((o) => `--${o.name} ${o.placeholder}`),
    ...(command.options.some((o) => !o.required) ? ["[options]"] : [])
  ].join(" ")

const section = (path: ReadonlyArray<NodeDescriptor>): string => {
  const command = path[path.length - 1] as CommandDescriptor
  const lines = [`### ${commandLine(path)}`, "", command.summary + ".", ""]
  if (command.description !== undefined) lines.push(command.description, "")
  lines.push("```", usage(path, command), "```", "")
  if (command.args.length > 0) {
    lines.push("| argument | description |", "|---|---|", ...command.args.map((a) => `| \`${a.name}\` | ${cell(a.description)}${a.optional ? " (optional)" : ""} |`), "")
  }
  if (command.options.length > 0) {
    lines.push("| option | description |", "|---|---|", ...command.options.map((o) => `| \`${flagText(o).trim()}\` | ${cell(optionText(o))} |`), "")
  }
  lines.push("```sh", ...command.examples.flatMap((e) => [`# ${e.description}`, e.command]), "```", "")
  return lines.join("\n")
}

export const renderReference = (tree: NodeDescriptor): string => {
  const commands = leaves([tree])
  return [
    "## Global options",
    "",
    "Every command takes them, before or after its own words. A flag wins over its variable, which wins over the saved profile.",
    "",
    "| option | description |",
    "|---|---|",
    ...GLOBAL_OPTIONS.map((o) => `| \`${flagText(o).trim()}\` | ${cell(optionText(o))} |`),
    "",
    "## Exit codes",
    "",
    "| code | meaning |",
    "|---|---|",
    ...EXIT_CODE_MEANINGS.map(([code, meaning]) => `| ${code} | ${cell(meaning)} |`),
    "",
    "## Commands",
    "",
    ...commands.map((path) => `- [\`${commandLine(path)}\`](#${commandLine(path).replace(/ /g, "-")}): ${cell((path[path.length - 1] as CommandDescriptor).summary)}`),
    "",
    ...commands.map(section)
  ].join("\n")
}
