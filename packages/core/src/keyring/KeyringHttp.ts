import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { CoreApi } from "../CoreApi.js"
import { MasterKeyRewrapResult } from "./KeyringApi.js"
import { MasterKeyRewrap } from "./Rewrap.js"

export const KeyringHttp = HttpApiBuilder.group(CoreApi, "keyring", (handlers) =>
  Effect.map(MasterKeyRewrap, (rewrap) =>
    handlers.handle("rewrap", ({ payload }) => Effect.map(rewrap.run(payload), (pass) => new MasterKeyRewrapResult(pass)))
  )
)
