/** @itl-attestation/secret-vault — the `secret_vault` extension. */
import { defineExtension, serveApi } from "@itl-attestation/core"
import { Layer } from "effect"
import { MachineSecrets } from "./MachineSecrets.js"
import { migrations } from "./migrations.js"
import { SecretVaultApi } from "./SecretVaultApi.js"
import { secretVaultEvents } from "./events.js"
import { secretVaultScopes } from "./scopes.js"
import { SecretVaultHttp } from "./SecretVaultHttp.js"
import { SharedKeyringLive } from "./SharedKeyring.js"
import { SharedSecrets } from "./SharedSecrets.js"

export const secretVault = defineExtension({
  name: "secret_vault",
  version: "2.0.0",
  description: "TPM-bound secret storage for attested machines + shared secrets",
  core: "^2.0.0",
  migrations,
  scopes: secretVaultScopes,
  events: secretVaultEvents,
  // The shared-key check runs when the services are built, before any route exists.
  layer: Layer.mergeAll(MachineSecrets.Default, SharedSecrets.Default).pipe(Layer.provide(SharedKeyringLive)),
  apis: [serveApi(SecretVaultApi, SecretVaultHttp)]
})

export default secretVault
export { SecretVaultApi } from "./SecretVaultApi.js"
export * from "./Secret.js"
export { hkdfKeyForFingerprint, HKDF_INFO, HKDF_SALT } from "./delivery.js"
export { secretVaultScopes, SecretsRead, SecretsWrite, SecretsAdmin } from "./scopes.js"
export { secretVaultEvents } from "./events.js"
