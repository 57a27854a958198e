#!/usr/bin/env node
/** Entry point: run the CLI, and report any failure as one line on stderr. */
// Subpath imports: the package index loads every Node service (~0.2 s per run).
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect, Option } from "effect"
import { run } from "./cli.js"
import { describeCause } from "./errors.js"

// @effect/cli prints a usage error's whole help page on stderr before failing;
// errors.ts reports it in one line instead, so that page is dropped here. Help
// and version output go through Console.log and are unaffected.
const withoutHelpOnError = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Console.consoleWith((console) => Console.withConsole(self, { ...console, error: () => Effect.void }))

const program = Effect.suspend(() => run(process.argv)).pipe(
  withoutHelpOnError,
  Effect.catchAllCause((cause) =>
    Effect.sync(() => {
      const outcome = describeCause(cause)
      if (Option.isSome(outcome.line)) process.stderr.write(`${outcome.line.value}\n`)
      process.exitCode = outcome.exitCode
    })
  ),
  Effect.provide(NodeContext.layer)
)

NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
