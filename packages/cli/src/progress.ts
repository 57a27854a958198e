/**
 * Progress of a long operation, on stderr and only on a terminal: one line
 * rewritten in place, erased when done. Pipes and files never see it, so
 * stdout stays clean for scripts.
 */
import { Effect } from "effect"

export interface Progress {
  readonly update: (line: string) => Effect.Effect<void>
  readonly done: Effect.Effect<void>
}

export const progress = (stream: NodeJS.WriteStream = process.stderr): Progress => {
  if (stream.isTTY !== true) return { update: () => Effect.void, done: Effect.void }
  let shown = false
  return {
    update: (line) =>
      Effect.sync(() => {
        shown = true
        stream.write(`\r\u001b[2K${line}`)
      }),
    done: Effect.sync(() => {
      if (shown) stream.write("\r\u001b[2K")
    })
  }
}
