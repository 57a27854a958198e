/**
 * `--help` text, from the descriptors alone (so extension commands known from
 * the cache get the same help without being loaded).
 */
import { GLOBAL_OPTIONS } from "./globalOptions.js"
import { commandLine } from "./parse.js"
import type { NodeDescriptor, OptionDescriptor } from "./spec.js"
import { type Style, twoColumns, wrap, wrapCommand } from "./style.js"

/** `-o, --output FORMAT` */
export const flagText = (o: OptionDescriptor) =>
  `${o.short === undefined ? "    " : `-${o.short}, `}--${o.name}${o.placeholder === "" ? "" : ` ${o.placeholder}`}`

/** The description with what help must also say: the choices, the variable, the default. */
export const optionText = (o: OptionDescriptor) => {
  const notes = [
    ...(o.required ? ["required"] : []),
    ...(o.choices !== undefined && !o.description.includes(o.choices[0]!) ? [`one of ${o.choices.join(", ")}`] : []),
    ...(o.env === undefined ? [] : [`env ${o.env}`]),
    ...(o.default === undefined ? [] : [`default ${o.default}`])
  ]
  return notes.length === 0 ? o.description : `${o.description} [${notes.join("; ")}]`
}

const usageLine = (path: ReadonlyArray<NodeDescriptor>) => {
  const node = path[path.length - 1]!
  if (node.kind === "group") return `${commandLine(path)} <command> [options]`
  const args = node.args.map((a) => (a.optional ? `[${a.name}]` : `<${a.name}>`))
  const required = node.options.filter((o) => o.required).map((o) => `--${o.name} ${o.placeholder}`)
  return [commandLine(path), ...args, ...required, "[options]"].join(" ")
}

const section = (style: Style, title: string, lines: ReadonlyArray<string>) => (lines.length === 0 ? [] : ["", style.bold(`${title}:`), ...lines])

export const renderHelp = (path: ReadonlyArray<NodeDescriptor>, style: Style, version?: string): string => {
  const node = path[path.length - 1]!
  const top = path.length === 1
  const heading = top && version !== undefined ? `${node.summary} (attestation ${version})` : node.summary
  const lines: Array<string> = [...wrap(heading, style.width)]
  if (node.description !== undefined) lines.push("", ...wrap(node.description, style.width))
  lines.push(...section(style, "Usage", wrapCommand(usageLine(path), style.width - 2).map((line) => `  ${line}`)))
  if (node.kind === "group") {
    lines.push(...section(style, "Commands", twoColumns(node.commands.map((c) => [c.name, c.summary]), style.width)))
  } else {
    lines.push(...section(style, "Arguments", twoColumns(node.args.map((a) => [a.name, a.description]), style.width)))
    lines.push(...section(style, "Options", twoColumns(node.options.map((o) => [flagText(o), optionText(o)]), style.width)))
  }
  lines.push(...section(style, "Global options", twoColumns(GLOBAL_OPTIONS.map((o) => [flagText(o), optionText(o)]), style.width)))
  const examples = node.examples.flatMap((e) => [
    ...wrap(`# ${e.description}`, style.width - 4).map((line, i) => `  ${style.dim(i === 0 ? line : `# ${line}`)}`),
    ...wrapCommand(e.command, style.width - 2).map((line) => `  ${line}`)
  ])
  lines.push(...section(style, "Examples", examples))
  if (node.kind === "group") lines.push("", ...wrap(`Run '${commandLine(path)} <command> --help' for a command's options and examples.`, style.width))
  return `${lines.join("\n")}\n`
}
