/** What loaded and what did not, for `GET /api/v1/extensions`, the docs and the startup banner. */
import type { HttpApi } from "@effect/platform"
import { Effect } from "effect"
import type { ExtensionInfo } from "./Extension.js"

export interface ExtensionFailure {
  readonly name: string
  readonly reason: string
}

export interface LoadedExtension extends ExtensionInfo {
  /** The extension's APIs as they are served (their pipelines applied), for `/openapi.json` and `/docs`. */
  readonly apis: ReadonlyArray<HttpApi.HttpApi.Any>
}

export class ExtensionRegistry extends Effect.Service<ExtensionRegistry>()("@itl-attestation/core/ExtensionRegistry", {
  sync: () => {
    const loaded: Array<LoadedExtension> = []
    const failed: Array<ExtensionFailure> = []
    return {
      markLoaded: (info: LoadedExtension) => Effect.sync(() => void loaded.push(info)),
      markFailed: (failure: ExtensionFailure) => Effect.sync(() => void failed.push(failure)),
      loaded: Effect.sync(() => [...loaded].sort((a, b) => a.name.localeCompare(b.name))),
      failed: Effect.sync(() => [...failed])
    } as const
  }
}) {}
