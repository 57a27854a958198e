/**
 * What an extension adds to the `attestation` CLI: a module named in its
 * package.json (`"attestationCli": ["./dist/cli.js"]`) whose default export
 * is made by `defineCliExtension`, with commands made by `command` and
 * `group`. Recognised by its `_tag`, never by `instanceof`, so a module built
 * against another copy of this package is still recognised.
 */
import type { NodeSpec } from "./framework/spec.js"

export interface CliExtensionDefinition {
  /** The extension's name (`secret_vault`), for messages. */
  readonly name: string
  /** Top-level commands: `attestation <command> …`. */
  readonly commands?: ReadonlyArray<NodeSpec>
  /** Machine-side commands, under `attestation agent <command> …`. */
  readonly agentCommands?: ReadonlyArray<NodeSpec>
}

export interface CliExtension extends CliExtensionDefinition {
  readonly _tag: "AttestationCliExtension"
}

export const defineCliExtension = (definition: CliExtensionDefinition): CliExtension => ({
  ...definition,
  _tag: "AttestationCliExtension"
})

export const isCliExtension = (value: unknown): value is CliExtension =>
  typeof value === "object" && value !== null && (value as { _tag?: unknown })._tag === "AttestationCliExtension"
