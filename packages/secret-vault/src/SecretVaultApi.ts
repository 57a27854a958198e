/** secret_vault's HTTP API: one HttpApi, so clients (the CLI) derive from it. */
import { HttpApi, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import {
  BadRequest,
  Conflict,
  Forbidden,
  MachineAuthentication,
  MachineId,
  MachineOwner,
  NotFound,
  OperatorAlternative,
  pageParams,
  PayloadTooLarge,
  requireScope,
  strictPayloads
} from "@itl-attestation/core/api"
import { Schema } from "effect"
import {
  AccessGrantList,
  CreateSecret,
  CreateSharedSecret,
  DeliveryScheme,
  FingerprintBoundSecret,
  MachineIds,
  RewrapResult,
  SecretList,
  SecretMetadata,
  SecretName,
  SharedSecret,
  SharedSecretList,
  SharedSecretValue,
  TpmBoundSecret,
  UpdateSharedSecret
} from "./Secret.js"
import { SecretsAdmin, SecretsRead, SecretsWrite } from "./scopes.js"

const machinePath = Schema.Struct({ id: MachineId })
const sharedPath = Schema.Struct({ id: Schema.UUID })

export class MachineSecretsGroup extends HttpApiGroup.make("machineSecrets")
  .add(
    HttpApiEndpoint.post("create", "/secrets/machines/:id/secrets")
      .setPath(machinePath)
      .setPayload(CreateSecret)
      .addSuccess(SecretMetadata, { status: 201 })
      .addError(NotFound)
      .addError(Conflict)
      .addError(PayloadTooLarge)
      .middleware(requireScope(SecretsWrite))
  )
  .add(
    HttpApiEndpoint.get("list", "/secrets/machines/:id/secrets")
      .setPath(machinePath)
      .setUrlParams(pageParams)
      .addSuccess(SecretList)
      .addError(NotFound)
      .middleware(requireScope(SecretsRead))
  )
  .add(
    HttpApiEndpoint.del("delete", "/secrets/:id")
      .setPath(Schema.Struct({ id: Schema.UUID }))
      .addSuccess(Schema.Void, { status: 204 })
      .addError(NotFound)
      .middleware(requireScope(SecretsWrite))
  )
  .addError(Forbidden)
  .prefix("/api/v1") {}

export class MachineSecretReadGroup extends HttpApiGroup.make("machineSecretRead")
  .add(
    HttpApiEndpoint.get("read", "/secrets/machines/:id/secrets/:name")
      .setPath(Schema.Struct({ id: MachineId, name: SecretName }))
      .setUrlParams(Schema.Struct({ scheme: Schema.optional(DeliveryScheme) }))
      .addSuccess(Schema.Union(TpmBoundSecret, FingerprintBoundSecret))
      .addError(NotFound)
      .addError(Conflict)
      // Another machine learns nothing, not even that the secret exists.
      .annotate(MachineOwner, { parameter: "id", otherMachine: 404 as const })
  )
  // Values are sealed to the machine's TPM: operators see names and metadata only.
  .annotate(OperatorAlternative, "GET /api/v1/secrets/machines/{id}/secrets to list a machine's secrets, without values (`attestation secret list <machine-id>`)")
  .middleware(MachineAuthentication)
  .prefix("/api/v1") {}

export class SharedSecretsGroup extends HttpApiGroup.make("sharedSecrets")
  .add(
    HttpApiEndpoint.post("create", "/shared-secrets")
      .setPayload(CreateSharedSecret)
      .addSuccess(SharedSecret, { status: 201 })
      .addError(Conflict)
      .addError(PayloadTooLarge)
      .middleware(requireScope(SecretsWrite))
  )
  .add(HttpApiEndpoint.get("list", "/shared-secrets").setUrlParams(pageParams).addSuccess(SharedSecretList).middleware(requireScope(SecretsRead)))
  .add(HttpApiEndpoint.post("rewrap", "/shared-secrets/rewrap").addSuccess(RewrapResult).middleware(requireScope(SecretsAdmin)))
  .add(HttpApiEndpoint.get("get", "/shared-secrets/:id").setPath(sharedPath).addSuccess(SharedSecret).addError(NotFound).middleware(requireScope(SecretsRead)))
  .add(
    HttpApiEndpoint.put("update", "/shared-secrets/:id")
      .setPath(sharedPath)
      .setPayload(UpdateSharedSecret)
      .addSuccess(SharedSecret)
      .addError(NotFound)
      .addError(BadRequest)
      .addError(PayloadTooLarge)
      .middleware(requireScope(SecretsWrite))
  )
  .add(
    HttpApiEndpoint.del("delete", "/shared-secrets/:id")
      .setPath(sharedPath)
      .addSuccess(Schema.Void, { status: 204 })
      .addError(NotFound)
      .middleware(requireScope(SecretsWrite))
  )
  .add(
    HttpApiEndpoint.post("grant", "/shared-secrets/:id/access")
      .setPath(sharedPath)
      .setPayload(MachineIds)
      .addSuccess(AccessGrantList)
      .addError(NotFound)
      .middleware(requireScope(SecretsWrite))
  )
  .add(
    HttpApiEndpoint.del("revoke", "/shared-secrets/:id/access")
      .setPath(sharedPath)
      .setPayload(MachineIds)
      .addSuccess(AccessGrantList)
      .addError(NotFound)
      .middleware(requireScope(SecretsWrite))
  )
  .add(
    HttpApiEndpoint.get("access", "/shared-secrets/:id/access")
      .setPath(sharedPath)
      .setUrlParams(pageParams)
      .addSuccess(AccessGrantList)
      .addError(NotFound)
      .middleware(requireScope(SecretsRead))
  )
  .addError(Forbidden)
  .prefix("/api/v1") {}

export class SharedSecretReadGroup extends HttpApiGroup.make("sharedSecretRead")
  .add(
    HttpApiEndpoint.get("value", "/shared-secrets/by-name/:name/value")
      .setPath(Schema.Struct({ name: SecretName }))
      .addSuccess(SharedSecretValue)
      .addError(NotFound)
      .addError(Forbidden)
  )
  // Operators manage shared secrets and who may read them; only machines on the access list read values.
  .annotate(OperatorAlternative, "GET /api/v1/shared-secrets and GET /api/v1/shared-secrets/{id}/access to see shared secrets and which machines may read them (`attestation shared-secret list`, `attestation shared-secret access <name>`)")
  .middleware(MachineAuthentication)
  .prefix("/api/v1") {}

/** Unknown body fields are 400, as the OpenAPI document says (`additionalProperties: false`). */
export class SecretVaultApi extends strictPayloads(
  HttpApi.make("secret_vault").add(MachineSecretsGroup).add(MachineSecretReadGroup).add(SharedSecretsGroup).add(SharedSecretReadGroup)
) {}
