/**
 * @itl-attestation/core/api — the core's HTTP API definition and the schemas
 * of what it exchanges, without the server (no database drivers, no
 * services): what a client such as the `attestation` CLI needs, light to load.
 */
export { CoreApi } from "./CoreApi.js"
export { Machine, MachinePage, MachineStatus, MachineId, RegisteredMachine } from "./machines/Machine.js"
export { AuditEntry, AuditPage, AuditVerification } from "./audit/AuditEntry.js"
export { ExtensionList } from "./system/SystemApi.js"
export { MAX_REWRAP_LIMIT, DEFAULT_REWRAP_LIMIT } from "./keyring/rewrapLimits.js"
export type { RewrapCursor } from "./keyring/Rewrap.js"
export { MasterKeyRewrapResult } from "./keyring/KeyringApi.js"
export { AttestationResult } from "./attestation/AttestationModels.js"
export { PcrValuesJson } from "./attestation/PcrPolicy.js"
export { Role, OperatorToken, CreatedOperatorToken, OperatorTokenList } from "./operators/Operator.js"
export * as Tpm from "./tpm/index.js"

// What an extension's own HttpApi definition needs (its CLI module imports that definition).
export { BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, ServiceUnavailable, TooManyRequests, Unauthorized } from "./http/ApiError.js"
export { strictPayloads } from "./http/strictPayloads.js"
export { pageParams, DEFAULT_LIMIT, type Page } from "./http/Pagination.js"
export { MachineAuthentication } from "./sessions/MachineAuthentication.js"
export { OperatorAlternative } from "./sessions/OperatorAlternative.js"
export { defineScope, type ScopeDefinition } from "./authorization/Scope.js"
export { requireScope, type PolicyTag } from "./authorization/Policy.js"
export { MachineOwner } from "./authorization/MachineOwner.js"
