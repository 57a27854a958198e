/**
 * A handler failure in one line for logs and the dead-letter table: the
 * error's tag and message only — never the error's fields, which may hold
 * data the handler was working with.
 */
import { Cause } from "effect"

const MAX_LENGTH = 500

export const describeCause = (cause: Cause.Cause<unknown>): string => {
  if (Cause.isInterruptedOnly(cause)) return "interrupted"
  const error = Cause.squash(cause)
  let text: string
  if (error instanceof Error) {
    const tag = (error as { _tag?: unknown })._tag
    const message = error.message.trim()
    text = typeof tag === "string" && tag !== message ? (message === "" ? tag : `${tag}: ${message}`) : message || error.name
  } else if (typeof error === "object" && error !== null) {
    const { _tag: tag, message } = error as { _tag?: unknown; message?: unknown }
    text = [typeof tag === "string" ? tag : undefined, typeof message === "string" ? message : undefined]
      .filter((part) => part !== undefined)
      .join(": ") || "handler failed"
  } else {
    text = typeof error === "string" ? error : "handler failed"
  }
  const line = text.split(/\r?\n/)[0]!.trim()
  return line.length > MAX_LENGTH ? `${line.slice(0, MAX_LENGTH - 1)}…` : line
}
