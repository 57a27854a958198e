/**
 * Compiled by extensionContract.test.ts with `tsc --noEmit`. Each
 * `@ts-expect-error` marks something the contract must refuse at compile
 * time; if the contract ever accepts it, the directive is unused and tsc fails.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { defineExtension, MachineDirectory, Machines, OperatorTokens, serveApi } from "@itl-attestation/core"
import { Effect, Layer } from "effect"

class ReadsDirectory extends Effect.Service<ReadsDirectory>()("fixture/ReadsDirectory", {
  effect: Effect.map(MachineDirectory, (directory) => ({ directory }))
}) {}

class NeedsMachines extends Effect.Service<NeedsMachines>()("fixture/NeedsMachines", {
  effect: Effect.map(Machines, (machines) => ({ machines }))
}) {}

class NeedsTokens extends Effect.Service<NeedsTokens>()("fixture/NeedsTokens", {
  effect: Effect.map(OperatorTokens, (tokens) => ({ tokens }))
}) {}

/** The read model is part of the extension context. */
export const allowed = defineExtension({ name: "allowed", version: "1.0.0", description: "", core: "^2.0.0", layer: ReadsDirectory.Default })

export const lifecycle = defineExtension({
  name: "lifecycle",
  version: "1.0.0",
  description: "",
  core: "^2.0.0",
  // @ts-expect-error the machine service (approve, revoke, delete) is not part of the extension context
  layer: NeedsMachines.Default
})

export const tokens = defineExtension({
  name: "tokens",
  version: "1.0.0",
  description: "",
  core: "^2.0.0",
  // @ts-expect-error operator tokens are not part of the extension context
  layer: NeedsTokens.Default
})

class TwoGroups extends HttpApi.make("two")
  .add(HttpApiGroup.make("a").add(HttpApiEndpoint.get("x", "/x")))
  .add(HttpApiGroup.make("b").add(HttpApiEndpoint.get("y", "/y"))) {}

const groupA = HttpApiBuilder.group(TwoGroups, "a", (handlers) => handlers.handle("x", () => Effect.void))
const groupB = HttpApiBuilder.group(TwoGroups, "b", (handlers) => handlers.handle("y", () => Effect.void))

/** Every documented group has handlers. */
export const complete = serveApi(TwoGroups, Layer.merge(groupA, groupB))

// @ts-expect-error group "b" has no handlers: the documented routes and the served routes must be the same
export const missing = serveApi(TwoGroups, groupA)
