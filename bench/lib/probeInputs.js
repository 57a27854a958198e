/**
 * The probe's inputs: for one operation of /openapi.json, a battery of
 * malformed and hostile requests, each `{ role, method, path, headers, body,
 * chunked, what }` (`body` is the raw text sent; `what` says in a few words what
 * is wrong with it). Plausible values come from the operation's schemas and the
 * fixtures (`fx`: real ids and names made by the runner), so that an input
 * gets as far into the server as one broken thing lets it.
 */
import * as crypto from "node:crypto"

const NUL = "a\u0000b"
const SURROGATE = "a\ud800b"
const LONG = "x".repeat(100_000)
const DEEP = 3000
/** Percent-encoded forms for URLs: %00, and the UTF-8 bytes a lone surrogate would be (invalid UTF-8). */
const URL_NUL = "a%00b"
const URL_SURROGATE = "a%ED%A0%80b"
const DEEP_MARK = "__probe_deep__"
/** Stands for a machine the runner makes for that one request. */
export const FRESH_MACHINE = "__probe_fresh_machine__"
const deepArray = "[".repeat(DEEP) + "]".repeat(DEEP)

const resolve = (spec, schema) => {
  let s = schema ?? {}
  for (let i = 0; i < 20 && s.$ref; i++) s = s.$ref.replace(/^#\/components\/schemas\//, "").split("/").reduce((o, k) => o?.[k], spec.components?.schemas) ?? {}
  return s
}

/** The first alternative of a union that is not `null`. */
const pick = (spec, schema) => {
  const s = resolve(spec, schema)
  const options = s.anyOf ?? s.oneOf
  if (options) return pick(spec, options.find((o) => resolve(spec, o).type !== "null") ?? options[0])
  if (s.allOf) return Object.assign({}, ...s.allOf.map((o) => pick(spec, o)))
  return s
}

const typeOf = (s) => (Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type) ?? (s.properties ? "object" : s.enum ? typeof s.enum[0] : undefined)

/** A plausible valid value for a field, from its name first (ids, keys, PCRs), else from its schema. */
const plausible = (spec, name, schema, fx, depth = 0) => {
  const byName = {
    ek_public: fx.pem(),
    hostname: `probe-${crypto.randomBytes(3).toString("hex")}`,
    name: `probe-${crypto.randomBytes(3).toString("hex")}`,
    role: "viewer",
    machine_id: fx.machineId,
    machine_ids: [fx.machineId],
    value: "probe-value",
    pcrs: { sha256: { 7: "00".repeat(32) } },
    reason: "probe",
    description: "probe"
  }
  if (name in byName) return byName[name]
  const s = pick(spec, schema)
  if (s.enum) return s.enum[0]
  if (s.const !== undefined) return s.const
  switch (typeOf(s)) {
    case "string":
      if (s.format === "uuid") return fx.machineId
      if (s.format === "date-time") return new Date().toISOString()
      return "probe".padEnd(s.minLength ?? 0, "x")
    case "integer":
    case "number":
      return s.minimum ?? 1
    case "boolean":
      return true
    case "array":
      return depth > 4 ? [] : [plausible(spec, "", s.items, fx, depth + 1)]
    case "object": {
      if (depth > 4) return {}
      const out = {}
      for (const [key, prop] of Object.entries(s.properties ?? {})) out[key] = plausible(spec, key, prop, fx, depth + 1)
      return out
    }
    default:
      return "probe"
  }
}

/** A value of another JSON type than the field's. */
const wrongType = (s) => {
  switch (typeOf(s)) {
    case "string":
      return 12345
    case "integer":
    case "number":
      return "not-a-number"
    case "boolean":
      return "yes"
    case "array":
      return { not: "an array" }
    default:
      return "not-an-object"
  }
}

const json = (value) => JSON.stringify(value)
const withDeep = (value) => json(value).replace(`"${DEEP_MARK}"`, deepArray)

/** Path template with each `{param}` replaced: `values` override the fixtures. */
const fillPath = (template, fx, values = {}) =>
  template.replace(/\{(\w+)\}/g, (_, param) => values[param] ?? fx.pathValue(template, param))

/**
 * All inputs for one operation. `full` is the whole battery (sent as admin);
 * every role also gets the short list (bad path, bad body, huge body …), which
 * checks that authorization comes before validation.
 */
export const inputsFor = (spec, template, method, operation, fx) => {
  const M = method.toUpperCase()
  const pathParams = (operation.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name)
  const queryParams = (operation.parameters ?? []).filter((p) => p.in === "query")
  const bodySchema = pick(spec, operation.requestBody?.content?.["application/json"]?.schema)
  const hasBody = operation.requestBody !== undefined
  const fields = Object.entries(bodySchema.properties ?? {})
  const required = new Set(bodySchema.required ?? [])
  const base = () => (hasBody ? plausible(spec, "", bodySchema, fx) : undefined)
  // A DELETE of a resource by id targets an id that does not exist, except where the id itself is the input:
  // the fixtures must survive every input that a correct server would refuse for another reason.
  const deletes = M === "DELETE" && /\{id\}$/.test(template)
  // A status change needs a machine in the status it starts from, or every input stops at 409: the runner
  // replaces FRESH_MACHINE with a new machine brought to that status (see `fresh`).
  const fresh = M === "POST" ? /^\/api\/v1\/machines\/\{id\}\/(approve|reject|lock|unlock|revoke)$/.exec(template)?.[1] : undefined
  const path = deletes
    ? fillPath(template, fx, { id: crypto.randomUUID() })
    : fresh
      ? fillPath(template, fx, { id: FRESH_MACHINE })
      : fillPath(template, fx)
  const out = []
  const add = (what, { p = path, body, headers = {}, chunked = false, short = false, only } = {}) => {
    const raw = body === undefined ? (hasBody ? json(base()) : undefined) : body
    out.push({ method: M, path: p, what, body: raw, chunked, short, only, fresh, headers: raw === undefined ? headers : { "content-type": "application/json", ...headers } })
  }

  // Never the plain valid request for DELETE: it would remove a fixture the rest needs.
  if (M !== "DELETE") add("plausible request", { short: true })

  for (const [field, schema] of fields) {
    const s = pick(spec, schema)
    const variant = (what, value, short = false) => add(`${field}: ${what}`, { body: value === DEEP_MARK ? withDeep({ ...base(), [field]: DEEP_MARK }) : json({ ...base(), [field]: value }), short })
    variant("wrong type", wrongType(s))
    variant("null", null)
    if (required.has(field)) add(`${field}: missing`, { body: json(Object.fromEntries(Object.entries(base()).filter(([k]) => k !== field))) })
    variant("NUL character", typeOf(s) === "string" ? NUL : typeOf(s) === "array" ? [NUL] : typeOf(s) === "object" ? { [NUL]: NUL } : NUL, field === fields[0][0])
    variant("lone surrogate", typeOf(s) === "string" ? SURROGATE : typeOf(s) === "array" ? [SURROGATE] : typeOf(s) === "object" ? { [SURROGATE]: SURROGATE } : SURROGATE)
    variant("100 KB string", LONG)
    if (typeOf(s) === "string") {
      variant("empty string", "")
      variant("whitespace only", " \t\n ")
      variant("control characters", "a\u0001\u001b[31mb\u007f")
      variant("bidi and emoji", "\u202eevil\u202c 😀")
    }
    variant(`JSON nested ${DEEP} deep`, DEEP_MARK, field === fields[0][0])
    if (typeOf(s) === "object") {
      variant("object key with NUL", { [`k${NUL}`]: plausible(spec, "", s.additionalProperties ?? {}, fx) })
      variant("object key with lone surrogate", { [`k${SURROGATE}`]: plausible(spec, "", s.additionalProperties ?? {}, fx) })
    }
    if (typeOf(s) === "integer" || typeOf(s) === "number") {
      variant("negative", -1)
      variant("huge", 1e308)
      variant("fraction", 1.5)
      add(`${field}: NaN literal (not JSON)`, { body: json({ ...base(), [field]: DEEP_MARK }).replace(`"${DEEP_MARK}"`, "NaN") })
    }
  }

  if (hasBody) {
    add("extra unknown field", { body: json({ ...base(), probe_unknown_field: 1 }) })
    add("empty object", { body: "{}" })
    add("array instead of object", { body: "[]" })
    add("JSON null", { body: "null" })
    add("not JSON", { body: "{not json", short: true })
    add("empty body", { body: "" })
    add("truncated JSON", { body: json(base()).slice(0, -1) })
    add("top-level NUL key", { body: json({ ...base(), [NUL]: 1 }) })
    add(`whole body nested ${DEEP} deep`, { body: deepArray, short: true })
    add("text/plain content type", { headers: { "content-type": "text/plain" } })
    add("form content type", { body: "a=1&b=2", headers: { "content-type": "application/x-www-form-urlencoded" } })
    add("no content type", { headers: { "content-type": "" } })
    if (fields.length > 0) add(`900 KB value in ${fields[0][0]}`, { body: json({ ...base(), [fields[0][0]]: "!".repeat(900_000) }) })
  }
  // Over the 1 MiB default limit, announced and not.
  const huge = json({ ...(base() ?? {}), padding: "x".repeat(1_200_000) })
  add("1.2 MB body with Content-Length", { body: huge, short: true })
  add("1.2 MB body, chunked", { body: huge, chunked: true, short: true })

  // Credentials a careless or hostile client sends (as nobody: the role's own token would replace them).
  add("Authorization: Basic", { headers: { authorization: "Basic YWRtaW46YWRtaW4=" }, only: "unauthenticated" })
  add("Authorization: Bearer with 10 KB token", { headers: { authorization: `Bearer ${"t".repeat(10_000)}` }, only: "unauthenticated" })
  add("Authorization: Bearer without token", { headers: { authorization: "Bearer " }, only: "unauthenticated" })

  for (const param of pathParams) {
    const at = (what, value, short = false) => add(`path ${param}: ${what}`, { p: fillPath(template, fx, { [param]: value }), short })
    at("not a UUID", "not-a-uuid", true)
    at("NUL", URL_NUL)
    at("lone surrogate (invalid UTF-8)", URL_SURROGATE)
    at("5,000 characters", "y".repeat(5000))
    at("unknown UUID", crypto.randomUUID())
    if (!deletes) at("UUID in upper case", fx.machineId.toUpperCase())
    at("dot segments", "..%2F..%2Fetc")
  }

  const query = (what, qs, short = false) => add(what, { p: `${path}?${qs}`, short })
  for (const param of queryParams) {
    const q = param.name
    query(`query ${q}: NUL`, `${q}=${URL_NUL}`)
    query(`query ${q}: lone surrogate`, `${q}=${URL_SURROGATE}`)
    query(`query ${q}: 8,000 characters`, `${q}=${"z".repeat(8000)}`)
    query(`query ${q}: empty`, `${q}=`)
    query(`query ${q}: repeated`, `${q}=1&${q}=2`)
    const s = pick(spec, param.schema)
    if (["limit", "offset"].includes(q) || typeOf(s) === "integer" || typeOf(s) === "number") {
      for (const n of ["-1", "0", "1e309", "NaN", "99999999999999999999", "1.5", "Infinity", "0x10"]) query(`query ${q}: ${n}`, `${q}=${n}`)
    }
  }
  // Documented everywhere as paginated: send it even where the operation does not declare it.
  if (M === "GET" && !queryParams.some((p) => p.name === "limit")) {
    for (const n of ["-1", "NaN", "99999999999"]) query(`undeclared query limit: ${n}`, `limit=${n}`)
  }
  query("unknown query parameter", "probe_unknown=1")
  return out
}
