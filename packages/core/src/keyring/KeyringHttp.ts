import { Effect } from "effect"
import { CoreApi } from "../CoreApi.js"
import { groupUsing } from "../http/narrowContext.js"
import { MasterKeyRewrapResult } from "./KeyringApi.js"
import { MasterKeyRewrap } from "./Rewrap.js"

export const KeyringHttp = groupUsing(MasterKeyRewrap)(CoreApi, "keyring", (handlers) =>
  Effect.map(MasterKeyRewrap, (rewrap) =>
    handlers.handle("rewrap", ({ payload }) => Effect.map(rewrap.run(payload), (pass) => new MasterKeyRewrapResult(pass)))
  )
)
