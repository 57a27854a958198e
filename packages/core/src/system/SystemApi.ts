import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { ServiceUnavailable } from "../http/ApiError.js"

export class ExtensionList extends Schema.Class<ExtensionList>("ExtensionList")({
  extensions: Schema.Array(Schema.Struct({ name: Schema.String, version: Schema.String, description: Schema.String })),
  total: Schema.Number
}) {}

export class Health extends Schema.Class<Health>("Health")({ status: Schema.Literal("ok") }) {}

export class Readiness extends Schema.Class<Readiness>("Readiness")({
  status: Schema.Literal("ready"),
  database: Schema.Literal("embedded", "postgres"),
  migrations: Schema.Literal("done")
}) {}

export class SystemApi extends HttpApiGroup.make("system")
  .add(HttpApiEndpoint.get("healthz", "/healthz").addSuccess(Health))
  .add(HttpApiEndpoint.get("readyz", "/readyz").addSuccess(Readiness).addError(ServiceUnavailable))
  .add(HttpApiEndpoint.get("extensions", "/api/v1/extensions").addSuccess(ExtensionList)) {}
