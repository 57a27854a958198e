/** `attestation operator token …`: operator bearer tokens. */
import { type CreatedOperatorToken, type OperatorToken, type OperatorTokenList, Role } from "@itl-attestation/core/api"
import { Effect } from "effect"
import { callApi } from "../client.js"
import { command, group } from "../framework/command.js"
import { option } from "../framework/options.js"
import { column, pageFooter, render, table, time } from "../output.js"
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

const create = command({
  name: "create",
  summary: "Create a token (its secret is printed once)",
  examples: [
    { command: "attestation operator token create --name ci --role viewer", description: "A read-only token for a CI job" },
    {
      command: "attestation operator token create --name audit --role viewer --scopes audit:read",
      description: "A token limited to one scope of its role"
    }
  ],
  options: {
    name: option.text("name", { description: "A label, recorded as the actor of the token's changes", required: true }),
    role: option.choice("role", Role.literals, { description: "What the token may do", required: true }),
    scopes: option.list("scopes", {
      description: "Limit the token to these scopes of its role, comma-separated (default: all of them)",
      placeholder: "SCOPES"
    })
  },
  run: ({ options, globals }) =>
    Effect.gen(function* () {
      const payload = { name: options.name, role: options.role, ...(options.scopes === undefined ? {} : { scopes: [...options.scopes] }) }
      const created = yield* callApi(globals, (api) => api.operators.create({ payload }))
      yield* render(globals.output, created, createdTable)
    })
})

const list = command({
  name: "list",
  summary: "List tokens (never their secrets)",
  examples: [{ command: "attestation operator token list", description: "Every token, revoked ones included" }],
  options: { limit, offset },
  run: ({ options, globals }) =>
    Effect.gen(function* () {
      const tokens = yield* callApi(globals, (api) => api.operators.list({ urlParams: { limit: options.limit, offset: options.offset } }))
      yield* render(globals.output, tokens, listTable)
    })
})

const revoke = command({
  name: "revoke",
  summary: "Revoke a token; it stops working at once",
  examples: [{ command: "attestation operator token revoke 5b8e0c7a-1f2d-4e3c-9a8b-7c6d5e4f3a2b", description: "Revoke a leaked token" }],
  args: { id: idArg("Token") },
  run: ({ args, globals }) =>
    Effect.gen(function* () {
      const token = yield* callApi(globals, (api) => api.operators.revoke({ path: { id: args.id } }))
      yield* render(globals.output, token, (t) => table(tokenColumns, [t]))
    })
})

const tokenCommand = group({
  name: "token",
  summary: "Operator bearer tokens",
  commands: [create, list, revoke],
  examples: [{ command: "attestation operator token list", description: "Every token" }]
})

export const operatorCommand = group({
  name: "operator",
  summary: "Manage operators and their tokens",
  commands: [tokenCommand],
  examples: [{ command: "attestation operator token create --name alice --role operator", description: "A token for a new operator" }]
})
