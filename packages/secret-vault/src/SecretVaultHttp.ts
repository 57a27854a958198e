import { groupUsing, pageOf } from "@itl-attestation/core"
import { Effect, Layer } from "effect"
import { MachineSecrets } from "./MachineSecrets.js"
import { SecretVaultApi } from "./SecretVaultApi.js"
import { SharedSecrets } from "./SharedSecrets.js"

const MachineSecretsHttp = groupUsing(MachineSecrets)(SecretVaultApi, "machineSecrets", (handlers) =>
  Effect.map(MachineSecrets, (secrets) =>
    handlers
      .handle("create", ({ path, payload }) => secrets.create(path.id, payload.name, payload.value))
      .handle("list", ({ path, urlParams }) => secrets.list(path.id, pageOf(urlParams)))
      .handle("delete", ({ path }) => secrets.remove(path.id))
  )
)

const MachineSecretReadHttp = groupUsing(MachineSecrets)(SecretVaultApi, "machineSecretRead", (handlers) =>
  Effect.map(MachineSecrets, (secrets) =>
    handlers.handle("read", ({ path, urlParams }) => secrets.read(path.id, path.name, urlParams.scheme ?? "tpm2-credential-v1"))
  )
)

const SharedSecretsHttp = groupUsing(SharedSecrets)(SecretVaultApi, "sharedSecrets", (handlers) =>
  Effect.map(SharedSecrets, (shared) =>
    handlers
      .handle("create", ({ payload }) => shared.create(payload.name, payload.value, payload.description))
      .handle("list", ({ urlParams }) => shared.list(pageOf(urlParams)))
      .handle("rewrap", () => shared.rewrap)
      .handle("get", ({ path }) => shared.get(path.id))
      .handle("update", ({ path, payload }) => shared.update(path.id, payload))
      .handle("delete", ({ path }) => shared.remove(path.id))
      .handle("grant", ({ path, payload }) => shared.grant(path.id, payload.machine_ids))
      .handle("revoke", ({ path, payload }) => shared.revoke(path.id, payload.machine_ids))
      .handle("access", ({ path, urlParams }) => shared.accessList(path.id, pageOf(urlParams)))
  )
)

const SharedSecretReadHttp = groupUsing(SharedSecrets)(SecretVaultApi, "sharedSecretRead", (handlers) =>
  Effect.map(SharedSecrets, (shared) => handlers.handle("value", ({ path }) => shared.readByName(path.name)))
)

export const SecretVaultHttp = Layer.mergeAll(MachineSecretsHttp, MachineSecretReadHttp, SharedSecretsHttp, SharedSecretReadHttp)
