/**
 * @itl-attestation/cli/sdk — what an extension's CLI module builds its
 * commands with (docs/extensions.md, "A CLI module"):
 *
 * - `defineCliExtension`: the module's default export;
 * - `attestation`: the root command; `yield* attestation` in a handler gives
 *   the global options (`--url`, `--token`, `-o/--output`) already parsed;
 * - `apiCaller(api)`: a client derived from the extension's HttpApi, its
 *   failures turned into one-line `CliFailure`s; `machineApiCaller` for
 *   endpoints a machine calls;
 * - `group`, shared options, and the output helpers the core commands use,
 *   so that extension commands print like them;
 * - for `attestation agent …` commands: the state directory option and the
 *   attested machine (session token, credential activation with its TPM).
 *
 * It imports nothing of the command tree, so loading it from an extension
 * module cannot loop back into the CLI.
 */
export { type CliExtension, type CliExtensionDefinition, defineCliExtension, isCliExtension } from "./extension.js"
export { root as attestation, type Globals, type OutputFormat } from "./globals.js"
export { apiCaller, callApi, type CallOptions, type ClientOf, type CoreClient } from "./client.js"
export { CliFailure, SilentExit, oneLine, messageOf } from "./errors.js"
export { cell, column, type Column, count, details, json, pageFooter, render, shortFingerprint, table, time } from "./output.js"
export { group } from "./commands/group.js"
export { allPages, given, idArg, limit, MAX_PAGE, offset } from "./commands/shared.js"
export { type ApiRefusal, machineApiCaller, type MachineCredential, refusalLine } from "./agent/api.js"
export { type AttestedMachine, attestedMachine, stateDirOption } from "./agent/sdk.js"
