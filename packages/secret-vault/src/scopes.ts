/** secret_vault's scopes (machine secrets and shared secrets alike). */
import { defineScope } from "@itl-attestation/core/api"

export const SecretsRead = defineScope({
  name: "secrets:read",
  description: "List secrets' metadata and shared secrets' access lists (never a value)",
  grantedTo: "viewer"
})
export const SecretsWrite = defineScope({
  name: "secrets:write",
  description: "Create, rotate and delete machine and shared secrets; grant and revoke access",
  grantedTo: "operator"
})
export const SecretsAdmin = defineScope({
  name: "secrets:admin",
  description: "Move shared secrets to the current shared-secret key (rewrap)",
  grantedTo: "admin"
})

export const secretVaultScopes = [SecretsRead, SecretsWrite, SecretsAdmin] as const
