/** Arguments and options that several command groups share. */
import { Args, Options } from "@effect/cli"
import { Option } from "effect"

export const idArg = (what: string) => Args.text({ name: "id" }).pipe(Args.withDescription(`${what} id (UUID)`))

// Defaults match the server's; the derived client needs them spelled out
// because the API schema gives them as decoding defaults.
export const limit = Options.integer("limit").pipe(Options.withDescription("Page size (1-500)"), Options.withDefault(50))
export const offset = Options.integer("offset").pipe(Options.withDescription("Entries to skip"), Options.withDefault(0))

/** `{ key: value }` when the option was given, `{}` otherwise (the API takes absent fields, not `undefined`). */
export const given = <K extends string, A>(key: K, value: Option.Option<A>): { [P in K]?: A } =>
  Option.isSome(value) ? ({ [key]: value.value } as { [P in K]?: A }) : {}
