/**
 * The context every request starts from: only the body limit. Each route
 * brings the services it was built with (the HTTP API builder merges them into
 * the request's context), so nothing else is needed here. It matters for
 * speed: every service a request provides (the request itself, its id, the
 * caller's identity, a transaction's connection, a scope) copies the context,
 * and starting from the whole application's (about 40 services) cost a third
 * of a GET's context copying (docs/performance.md, "Read path").
 */
import { FileSystem, HttpIncomingMessage } from "@effect/platform"
import { Context, Option } from "effect"

/** The same default body limit @effect/platform-node's server sets (each API applies its own, smaller one). */
export const requestBaseContext = Context.make(HttpIncomingMessage.MaxBodySize, Option.some(FileSystem.Size(10 * 1024 * 1024)))
