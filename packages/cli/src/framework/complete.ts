/**
 * Shell completion. The scripts ask the CLI itself (`attestation __complete
 * <words…>`) for candidates, so commands of extensions installed later are
 * completed too, without regenerating the script.
 */
import { GLOBAL_OPTIONS } from "./globalOptions.js"
import type { NodeDescriptor, OptionDescriptor } from "./spec.js"

export const SHELLS = ["bash", "zsh", "fish"] as const
export type Shell = (typeof SHELLS)[number]

const optionsOf = (node: NodeDescriptor): ReadonlyArray<OptionDescriptor> =>
  node.kind === "command" ? [...node.options, ...GLOBAL_OPTIONS] : GLOBAL_OPTIONS

const lookup = (options: ReadonlyArray<OptionDescriptor>, word: string) =>
  options.find((o) => `--${o.name}` === word || (o.short !== undefined && `-${o.short}` === word))

/** Candidates for the last of `words` (the word being typed, possibly empty), given the words before it. */
export const candidates = (root: NodeDescriptor, words: ReadonlyArray<string>): ReadonlyArray<string> => {
  const current = words[words.length - 1] ?? ""
  let node = root
  let awaiting: OptionDescriptor | undefined
  for (const word of words.slice(0, -1)) {
    if (awaiting !== undefined) {
      awaiting = undefined
      continue
    }
    if (word.startsWith("-")) {
      const option = lookup(optionsOf(node), word)
      if (option !== undefined && option.kind !== "boolean") awaiting = option
      continue
    }
    if (node.kind === "group") node = node.commands.find((c) => c.name === word) ?? node
  }
  const matching = (list: ReadonlyArray<string>) => list.filter((candidate) => candidate.startsWith(current))
  if (awaiting !== undefined) return matching(awaiting.choices ?? [])
  if (current.startsWith("-")) return matching(optionsOf(node).map((o) => `--${o.name}`))
  return node.kind === "group" ? matching(node.commands.map((c) => c.name)) : []
}

/** The script to source (bash, zsh) or save (fish), for the command named `name`. */
export const completionScript = (shell: Shell, name: string): string => {
  const fn = `_${name.replace(/[^A-Za-z0-9_]/g, "_")}_complete`
  switch (shell) {
    case "bash":
      return [
        `# ${name} completion for bash: add to ~/.bashrc:  source <(${name} completion bash)`,
        `${fn}() {`,
        `  local IFS=$'\\n'`,
        `  COMPREPLY=($(${name} __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))`,
        `}`,
        `complete -o default -F ${fn} ${name}`,
        ``
      ].join("\n")
    case "zsh":
      return [
        `#compdef ${name}`,
        `# ${name} completion for zsh: add to ~/.zshrc (after compinit):  source <(${name} completion zsh)`,
        `${fn}() {`,
        `  local -a candidates`,
        `  candidates=(\${(f)"$(${name} __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)"})`,
        `  compadd -a candidates`,
        `}`,
        `compdef ${fn} ${name}`,
        ``
      ].join("\n")
    case "fish":
      return [
        `# ${name} completion for fish: ${name} completion fish > ~/.config/fish/completions/${name}.fish`,
        `function ${fn}`,
        `    set -l before (commandline -opc)`,
        `    set -l current (commandline -ct)`,
        `    ${name} __complete $before[2..-1] "$current" 2>/dev/null`,
        `end`,
        `complete -c ${name} -f -a '(${fn})'`,
        ``
      ].join("\n")
  }
}
