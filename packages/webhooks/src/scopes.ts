/** The webhooks extension's scopes: operators hold both by default. */
import { defineScope } from "@itl-attestation/core/api"

export const WebhooksRead = defineScope({
  name: "webhooks:read",
  description: "List webhooks and their delivery history (never a signing secret)",
  grantedTo: "operator"
})
export const WebhooksWrite = defineScope({
  name: "webhooks:write",
  description: "Create, change, delete and test webhooks; redeliver and replay their messages",
  grantedTo: "operator"
})

export const webhooksScopes = [WebhooksRead, WebhooksWrite] as const
