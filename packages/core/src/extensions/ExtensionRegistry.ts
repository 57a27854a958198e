/** What loaded and what did not, for `GET /api/v1/extensions`, the docs and the startup banner. */
import type { HttpApi } from "@effect/platform"
import { Effect } from "effect"
import type { ExtensionInfo } from "./Extension.js"

export interface ExtensionFailure {
  readonly name: string
  readonly reason: string
}

export class ExtensionRegistry extends Effect.Service<ExtensionRegistry>()("@itl-attestation/core/ExtensionRegistry", {
  sync: () => {
    const loaded: Array<ExtensionInfo & { readonly api?: HttpApi.HttpApi.Any }> = []
    const failed: Array<ExtensionFailure> = []
    return {
      markLoaded: (info: ExtensionInfo & { readonly api?: HttpApi.HttpApi.Any }) =>
        Effect.sync(() => void loaded.push(info)),
      markFailed: (failure: ExtensionFailure) => Effect.sync(() => void failed.push(failure)),
      loaded: Effect.sync(() =>
        [...loaded].sort((a, b) => a.name.localeCompare(b.name))
      ),
      failed: Effect.sync(() => [...failed])
    } as const
  }
}) {}
