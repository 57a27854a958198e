/** Arguments and options that several command groups share. */
import type { MachineId } from "@itl-attestation/core/api"
import { Effect, Option } from "effect"
import { arg, option, uuid } from "../framework/options.js"

/** A resource id argument, checked to be a UUID before any request. */
export const idArg = (what: string) => arg.text("id", { description: `${what} id (UUID)`, validate: uuid })

/** A machine id as the derived client's types want it (idArg checked it is a UUID). */
export const asMachineId = (id: string) => id as MachineId

/** The largest page the server gives. */
export const MAX_PAGE = 500

// Defaults match the server's; the derived client needs them spelled out
// because the API schema gives them as decoding defaults.
export const limit = option.integer("limit", { description: `Page size (1-${MAX_PAGE})`, placeholder: "N", min: 1, max: MAX_PAGE, default: 50 })
export const offset = option.integer("offset", { description: "Entries to skip", placeholder: "N", min: 0, default: 0 })

/**
 * Every item of a paginated list, fetched page by page (for look-ups that
 * must see all of it, such as finding a shared secret by name). `onPage`
 * sees the count so far and the total, for progress.
 */
export const allPages = <A, E, R>(
  fetchPage: (page: { readonly limit: number; readonly offset: number }) => Effect.Effect<{ readonly total: number; readonly items: ReadonlyArray<A> }, E, R>,
  onPage: (fetched: number, total: number) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<ReadonlyArray<A>, E, R> =>
  Effect.gen(function* () {
    const all: Array<A> = []
    for (;;) {
      const page = yield* fetchPage({ limit: MAX_PAGE, offset: all.length })
      all.push(...page.items)
      yield* onPage(all.length, page.total)
      if (page.items.length === 0 || all.length >= page.total) return all
    }
  })

/** `{ key: value }` when the value was given, `{}` otherwise (the API takes absent fields, not `undefined`). */
export const given = <K extends string, A>(key: K, value: A | undefined | Option.Option<A>): { [P in K]?: A } => {
  const present = Option.isOption(value) ? Option.getOrUndefined(value) : value
  return present === undefined ? {} : ({ [key]: present } as { [P in K]?: A })
}
