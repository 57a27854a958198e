/** Arguments and options that several command groups share. */
import { Args, Options } from "@effect/cli"
import type { MachineId } from "@itl-attestation/core"
import { Effect, Option } from "effect"

export const idArg = (what: string) => Args.text({ name: "id" }).pipe(Args.withDescription(`${what} id (UUID)`))

/**
 * A machine id as the derived client's types want it. The client checks it is
 * a UUID when it encodes the request, and reports `invalid request: id: …`.
 */
export const asMachineId = (id: string) => id as MachineId

// Defaults match the server's; the derived client needs them spelled out
// because the API schema gives them as decoding defaults.
export const limit = Options.integer("limit").pipe(Options.withDescription("Page size (1-500)"), Options.withDefault(50))
export const offset = Options.integer("offset").pipe(Options.withDescription("Entries to skip"), Options.withDefault(0))

/** The largest page the server gives. */
export const MAX_PAGE = 500

/**
 * Every item of a paginated list, fetched page by page (for look-ups that
 * must see all of it, such as finding a shared secret by name).
 */
export const allPages = <A, E, R>(
  fetchPage: (page: { readonly limit: number; readonly offset: number }) => Effect.Effect<{ readonly total: number; readonly items: ReadonlyArray<A> }, E, R>
): Effect.Effect<ReadonlyArray<A>, E, R> =>
  Effect.gen(function* () {
    const all: Array<A> = []
    for (;;) {
      const page = yield* fetchPage({ limit: MAX_PAGE, offset: all.length })
      all.push(...page.items)
      if (page.items.length === 0 || all.length >= page.total) return all
    }
  })

/** `{ key: value }` when the option was given, `{}` otherwise (the API takes absent fields, not `undefined`). */
export const given = <K extends string, A>(key: K, value: Option.Option<A>): { [P in K]?: A } =>
  Option.isSome(value) ? ({ [key]: value.value } as { [P in K]?: A }) : {}
