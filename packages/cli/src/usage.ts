/**
 * A clearer message for a mistyped command word. @effect/cli reports
 * `attestation machine aprove` as an invalid subcommand of the *root*
 * (each nesting level turns its child's mismatch into its own), which
 * points at the wrong word; this walks argv down the command tree instead.
 */
import { Command, HelpDoc, ValidationError } from "@effect/cli"
import { HashSet, Option } from "effect"

type AnyCommand = Command.Command<any, any, any, any>

const childrenOf = new WeakMap<AnyCommand, ReadonlyArray<AnyCommand>>()

/** Records a group's subcommands, so that `explainMismatch` can walk down to them. */
export const registerChildren = (command: AnyCommand, children: ReadonlyArray<AnyCommand>) => {
  childrenOf.set(command, children)
}

const nameOf = (command: AnyCommand): string => HashSet.values(Command.getNames(command)).next().value ?? ""

// The options that can precede a command word and take a separate value.
const VALUE_OPTIONS = new Set(["--url", "--token", "--output", "-o", "--log-level", "--completions"])

function* commandWords(args: ReadonlyArray<string>) {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg.startsWith("-")) {
      if (!arg.includes("=") && VALUE_OPTIONS.has(arg)) i++
      continue
    }
    yield arg
  }
}

const explain = (top: AnyCommand, args: ReadonlyArray<string>): Option.Option<string> => {
  let current = top
  const path = [nameOf(top)]
  for (const word of commandWords(args)) {
    const children = childrenOf.get(current)
    if (children === undefined) return Option.none()
    const next = children.find((child) => nameOf(child) === word)
    if (next === undefined) {
      return Option.some(`unknown command '${word}' for '${path.join(" ")}'; use one of: ${children.map(nameOf).join(", ")}`)
    }
    current = next
    path.push(word)
  }
  return Option.none()
}

/** Replaces a command-mismatch error's text with one naming the word and level at fault. */
export const explainMismatch = (top: AnyCommand, args: ReadonlyArray<string>) => (error: unknown) =>
  ValidationError.isValidationError(error) && ValidationError.isCommandMismatch(error)
    ? Option.match(explain(top, args), {
        onNone: () => error,
        onSome: (message) => ValidationError.commandMismatch(HelpDoc.p(message))
      })
    : error
