/** `attestation completion bash|zsh|fish`: the shell completion script. */
import { Console } from "effect"
import { command } from "../framework/command.js"
import { completionScript, SHELLS } from "../framework/complete.js"
import { arg } from "../framework/options.js"
import { quote } from "../framework/options.js"

export const completionCommand = command({
  name: "completion",
  summary: "Print the shell completion script for bash, zsh or fish",
  description: "The script asks the CLI for candidates, so commands of extensions installed later complete too.",
  examples: [
    { command: "source <(attestation completion bash)", description: "Enable completion in this bash (add it to ~/.bashrc)" },
    { command: "attestation completion fish > ~/.config/fish/completions/attestation.fish", description: "Install it for fish" }
  ],
  args: {
    shell: arg.text("shell", {
      description: `The shell: ${SHELLS.join(", ")}`,
      validate: (value) => ((SHELLS as ReadonlyArray<string>).includes(value) ? undefined : `expected one of ${SHELLS.join(", ")}, got ${quote(value)}`)
    })
  },
  run: ({ args }) => Console.log(completionScript(args.shell as (typeof SHELLS)[number], "attestation").trimEnd())
})
