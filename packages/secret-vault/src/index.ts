/** @itl-attestation/secret-vault — the `secret_vault` extension. */
import { HttpLayerRouter } from "@effect/platform"
import { defineExtension } from "@itl-attestation/core"
import { Layer } from "effect"
import { secretVaultEvents } from "./events.js"
import { MachineSecrets } from "./MachineSecrets.js"
import { migrations } from "./migrations.js"
import { SecretVaultApi } from "./SecretVaultApi.js"
import { SecretVaultHttp } from "./SecretVaultHttp.js"
import { SharedKeyringLive } from "./SharedKeyring.js"
import { SharedSecrets } from "./SharedSecrets.js"

const Services = Layer.mergeAll(MachineSecrets.Default, SharedSecrets.Default).pipe(Layer.provide(SharedKeyringLive))

export const secretVault = defineExtension({
  name: "secret_vault",
  version: "2.0.0",
  description: "TPM-bound secret storage for attested machines + shared secrets",
  migrations,
  api: SecretVaultApi,
  events: secretVaultEvents,
  // Services (and the shared-key check) first, routes last: a failure registers nothing.
  layer: HttpLayerRouter.addHttpApi(SecretVaultApi).pipe(Layer.provide(SecretVaultHttp), Layer.provide(Services))
})

export default secretVault
export { SecretVaultApi } from "./SecretVaultApi.js"
export { secretVaultEvents } from "./events.js"
export * from "./Secret.js"
export { hkdfKeyForFingerprint, HKDF_INFO, HKDF_SALT } from "./delivery.js"
