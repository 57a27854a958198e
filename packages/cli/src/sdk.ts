/**
 * @itl-attestation/cli/sdk — what an extension's CLI module builds its
 * commands with (docs/extensions.md, "A CLI module"):
 *
 * - `defineCliExtension`: the module's default export;
 * - `command` and `group`: a command's name, one-line summary, examples,
 *   options (`option.text/integer/choice/list/boolean`) and arguments
 *   (`arg.text`), and its handler, an Effect that receives them with the
 *   global options (`--url`, `--token`, `-o`, `--verbose`) already resolved.
 *   Help, completion, output formats and the generated reference cover such
 *   commands with no more work;
 * - `apiCaller(api)`: a client derived from the extension's HttpApi, its
 *   failures turned into one-line `CliFailure`s with the exit code of the
 *   HTTP status; `machineApiCaller` for endpoints a machine calls;
 * - shared options, `render` (table, json, yaml, id) and the output helpers
 *   the core commands use, so that extension commands print like them;
 * - for `attestation agent …` commands: the state directory option and the
 *   attested machine (session token, credential activation with its TPM).
 *
 * It imports nothing of the command tree, so loading it from an extension
 * module cannot loop back into the CLI.
 */
export { type CliExtension, type CliExtensionDefinition, defineCliExtension, isCliExtension } from "./extension.js"
export { command, group, type CommandDefinition, type CommandInput, type GroupDefinition } from "./framework/command.js"
export { arg, option, quote, uuid } from "./framework/options.js"
export type { ArgSpec, CommandSpec, Example, GroupSpec, NodeSpec, OptionSpec } from "./framework/spec.js"
export { type Globals, type OutputFormat } from "./globals.js"
export { apiCaller, callApi, type CallOptions, type ClientOf, type Connection, type CoreClient } from "./client.js"
export { CliFailure, SilentExit, oneLine, messageOf, usageFailure } from "./errors.js"
export { ExitCode } from "./exitCodes.js"
export { cell, column, type Column, count, details, idsOf, json, pageFooter, printable, render, shortFingerprint, table, time } from "./output.js"
export { progress, type Progress } from "./progress.js"
export { allPages, given, idArg, limit, MAX_PAGE, offset } from "./commands/shared.js"
export { type ApiRefusal, machineApiCaller, type MachineCredential, type MachineServer, refusalFailure, refusalLine } from "./agent/api.js"
export { type AttestedMachine, attestedMachine, stateDirOption } from "./agent/sdk.js"
