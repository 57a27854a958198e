/** `attestation operator token …`: operator bearer tokens. */
import { Command, Options } from "@effect/cli"
import { type CreatedOperatorToken, type OperatorToken, type OperatorTokenList, Role } from "@itl-attestation/core"
import { Effect, Option } from "effect"
import { callApi } from "../client.js"
import { root } from "../globals.js"
import { column, pageFooter, render, table, time } from "../output.js"
import { group } from "./group.js"
import { idArg, limit, offset } from "./shared.js"

const tokenColumns = [
  column<OperatorToken>("id", (t) => t.id),
  column<OperatorToken>("name", (t) => t.name),
  column<OperatorToken>("role", (t) => t.role),
  // "all": every scope of the role (no scope name is a single word)
  column<OperatorToken>("scopes", (t) => (t.scopes === null ? "all" : t.scopes.join(","))),
  column<OperatorToken>("created_at", (t) => time(t.created_at)),
  column<OperatorToken>("last_used_at", (t) => time(t.last_used_at)),
  column<OperatorToken>("revoked_at", (t) => time(t.revoked_at))
]

const createdTable = (created: CreatedOperatorToken) =>
  `${table(tokenColumns, [created])}\n\ntoken: ${created.token}\n(shown only now: the server keeps just its hash)`

const listTable = (list: OperatorTokenList) => `${table(tokenColumns, list.tokens)}\n${pageFooter(list.tokens.length, list.total, list.offset, "token")}`

const create = Command.make(
  "create",
  {
    name: Options.text("name").pipe(Options.withDescription("A label, recorded as the actor of the token's changes")),
    role: Options.choice("role", Role.literals).pipe(Options.withDescription("What the token may do")),
    scopes: Options.text("scopes").pipe(
      Options.withDescription("Limit the token to these scopes of its role, comma-separated (e.g. machines:read,audit:read); default: all of them"),
      Options.optional
    )
  },
  ({ name, role, scopes }) =>
    Effect.gen(function* () {
      const globals = yield* root
      const limited = Option.map(scopes, (list) => list.split(",").map((scope) => scope.trim()).filter((scope) => scope !== ""))
      const payload = { name, role, ...(Option.isSome(limited) ? { scopes: limited.value } : {}) }
      const created = yield* callApi(globals, (api) => api.operators.create({ payload }))
      yield* render(globals.output, created, createdTable)
    })
).pipe(Command.withDescription("Create a token (its secret is printed once)"))

const list = Command.make("list", { limit, offset }, (options) =>
  Effect.gen(function* () {
    const globals = yield* root
    const tokens = yield* callApi(globals, (api) => api.operators.list({ urlParams: { limit: options.limit, offset: options.offset } }))
    yield* render(globals.output, tokens, listTable)
  })
).pipe(Command.withDescription("List tokens (never their secrets)"))

const revoke = Command.make("revoke", { id: idArg("Token") }, ({ id }) =>
  Effect.gen(function* () {
    const globals = yield* root
    const token = yield* callApi(globals, (api) => api.operators.revoke({ path: { id } }))
    yield* render(globals.output, token, (t) => table(tokenColumns, [t]))
  })
).pipe(Command.withDescription("Revoke a token; it stops working at once"))

const tokenCommand = group("token", "Operator bearer tokens", [create, list, revoke])

export const operatorCommand = group("operator", "Manage operators", [tokenCommand])
