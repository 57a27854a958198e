/**
 * The pulumi_state scopes. Operators read and write stack state by default (a
 * team's CI token is an operator token limited to these); limiting tokens to
 * an org/project is an admin's job.
 */
import { defineScope } from "@itl-attestation/core/api"

export const PulumiRead = defineScope({
  name: "pulumi_state:read",
  description: "Read Pulumi stacks, their state, history and secrets (decrypt)",
  grantedTo: "operator"
})
export const PulumiWrite = defineScope({
  name: "pulumi_state:write",
  description: "Create, update, import, tag, rename and delete Pulumi stacks; run updates; encrypt secrets",
  grantedTo: "operator"
})
export const PulumiAdmin = defineScope({
  name: "pulumi_state:admin",
  description: "Limit operator tokens to one Pulumi organization or project",
  grantedTo: "admin"
})

export const pulumiScopes = [PulumiRead, PulumiWrite, PulumiAdmin] as const
