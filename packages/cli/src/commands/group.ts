/** A command that only groups subcommands (`machine`, `operator token`, …). */
import { Command, type CommandDescriptor, ValidationError } from "@effect/cli"
import { Effect } from "effect"
import { registerChildren } from "../usage.js"

type Subcommands = readonly [Command.Command<any, any, any, any>, ...Array<Command.Command<any, any, any, any>>]

/**
 * On its own the group shows its own help, subcommands included. (@effect/cli's
 * default would show the help of the group before its subcommands were added,
 * which lists none of them.)
 */
export const group = <Name extends string, const S extends Subcommands>(name: Name, description: string, subcommands: S) => {
  // Assigned below, before any handler can run: the handler needs the finished command.
  let self: CommandDescriptor.Command<unknown> | undefined
  const command = Command.make(name, {}, () => Effect.fail(ValidationError.helpRequested(self!))).pipe(
    Command.withDescription(description),
    Command.withSubcommands(subcommands)
  )
  self = command.descriptor as CommandDescriptor.Command<unknown>
  registerChildren(command, subcommands)
  return command
}
