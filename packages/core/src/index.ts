/** @itl-attestation/core — the library: extension contract, composition, core domain. */
export * as AttestationApp from "./AttestationApp.js"
export { StartupReport, type StartupReportShape, extensionFailureLine, describeFailure } from "./AttestationApp.js"
export { CoreApi } from "./CoreApi.js"
export { AppConfig, type AppConfigShape, appConfig, isEmbedded } from "./config/AppConfig.js"
export { DatabaseInfo, type DatabaseInfoShape } from "./db/Database.js"
export { runMigrations, type MigrationSet } from "./db/Migrations.js"
export { sqlDefect } from "./db/sqlDefect.js"
export {
  CORE_VERSION,
  defineExtension,
  EXTENSION_CONTRACT,
  type Extension,
  type ExtensionDefinition,
  type ExtensionInfo,
  FatalExtensionError,
  incompatibility,
  isExtension,
  isFatalExtensionError,
  serveApi,
  type ServedApi
} from "./extensions/Extension.js"
export type { EndpointMiddleware, ExtensionContext } from "./extensions/ExtensionContext.js"
export { ExtensionRegistry, type ExtensionFailure, type LoadedExtension } from "./extensions/ExtensionRegistry.js"
export { HostEnvironment, type HostEnvironmentShape } from "./extensions/HostEnvironment.js"
export { AuditedChanges, type ChangeEvent, type ChangeRecord } from "./audit/AuditedChanges.js"
export { MachineDirectory, type EnrolledKeys, type MachineListFilter } from "./machines/MachineDirectory.js"
export { EventBus } from "./events/EventBus.js"
export { RequestObservers, type ObservedRequest, type RequestObserver } from "./http/RequestObservers.js"
export { AuditFeed, type SealedAuditEntry, type SealedEntriesObserver } from "./audit/AuditFeed.js"
export {
  Measurements,
  type Counter,
  type CounterDefinition,
  type CounterIncrement,
  type MeasurementObserver
} from "./observability/Measurements.js"
export { retryAfter, ResponseHints } from "./http/ResponseHints.js"
export { traced, tracerWhenConsumed } from "./observability/traced.js"
export { type ApiPipelineOptions, renderCoreProblem } from "./http/ApiPipeline.js"
export { groupUsing } from "./http/narrowContext.js"
export { CoreDecodeError, type DecodeErrorSchema } from "./http/DecodeErrors.js"
export type { Problem } from "./http/Problem.js"
export { Events, type ConsumerOptions } from "./events/Events.js"
export { DomainEvent, StoredEvent, EventType } from "./events/Event.js"
export { AuditLog, type AuditRecord } from "./audit/AuditLog.js"
export { AuditEntry, AuditPage, AuditVerification, type Actor, systemActor } from "./audit/AuditEntry.js"
export { Keyring, KeyringError, type Sealed, makeKeyring, keyIdOf } from "./keyring/Keyring.js"
export { loadDataKey } from "./keyring/DataKeys.js"
export { MasterKeyRewrap, type SealedTable, type RewrapCursor, type RewrapPass, MAX_REWRAP_LIMIT, DEFAULT_REWRAP_LIMIT } from "./keyring/Rewrap.js"
export { KeyringApi, MasterKeyRewrapResult, RewrapRequest } from "./keyring/KeyringApi.js"
export * from "./http/ApiError.js"
export { strictPayloads } from "./http/strictPayloads.js"
export { paginationParams, pageParams, pageOf, DEFAULT_LIMIT, type Page } from "./http/Pagination.js"
export { ClientCertificateSubject, OperatorAuthenticator } from "./operators/Authentication.js"
export { type OperatorIdentity, Role, roleAtLeast, OperatorToken, CreatedOperatorToken, OperatorTokenList, CreateOperatorToken } from "./operators/Operator.js"
export { OperatorTokens } from "./operators/OperatorTokens.js"
export { OperatorCredentials, type VerifiedOperatorToken } from "./operators/OperatorCredentials.js"
export { Machines } from "./machines/Machines.js"
export { MachineRepo } from "./machines/MachineRepo.js"
export { Machine, MachinePage, MachineStatus, MachineId, RegisterMachine, Registration, NewRegistration, RegisteredMachine, TransitionRequest, Hostname, Hardware, HardwareInput } from "./machines/Machine.js"
export { fingerprintOf, parseEkPublic } from "./machines/ekKey.js"
export { ExtensionList, Health, Readiness } from "./system/SystemApi.js"
export { CurrentMachine, type MachineIdentity } from "./sessions/CurrentMachine.js"
export { MachineAuthentication } from "./sessions/MachineAuthentication.js"
export { OperatorAlternative } from "./sessions/OperatorAlternative.js"
export { MachineSessions } from "./sessions/MachineSessions.js"
export { Attestation, LOCK_REASON } from "./attestation/Attestation.js"
export { PcrPolicies } from "./attestation/PcrPolicies.js"
export { PcrPolicy, PcrPolicyView, PcrValuesJson, DEFAULT_PCR_SELECTION } from "./attestation/PcrPolicy.js"
export { AttestationChallenge, AttestationChallengeRequest, AttestationRequest, AttestationResult } from "./attestation/AttestationModels.js"
export { Enrollment } from "./enrollment/Enrollment.js"
export { CredentialChallenge, ActivateCredential } from "./machines/Machine.js"
export * as Tpm from "./tpm/index.js"
export { checkQuote, checkSigned, parseEvidence, type ParsedEvidence, type QuoteFailure, type UnsignedFailure } from "./attestation/verifyQuote.js"
export type { DatabaseOption, PgPool } from "./embedding/database.js"
export { type EmbeddingOptions } from "./embedding/embed.js"
export { InvalidPrefix } from "./embedding/prefix.js"
export { defineScope, type ScopeDefinition, roleHasScope, SCOPE_NAME } from "./authorization/Scope.js"
export { ScopeRegistry, ScopeRegistrationError, type RegisteredScope } from "./authorization/ScopeRegistry.js"
export { authorized, actorOf, type Authorized, type AuthorizedIdentity } from "./authorization/Authorized.js"
export { requireScope, policyLayer, requiredScopes, scopeOf, type PolicyMiddleware, type PolicyTag } from "./authorization/Policy.js"
export * from "./authorization/coreScopes.js"
export { MachineOwner, type MachineOwnerShape } from "./authorization/MachineOwner.js"
export { ConsumerStatus, type ConsumerHandle } from "./events/Events.js"
export { defineEvent, type EventDefinition } from "./events/EventDefinition.js"
export { EventCatalog, EventCatalogError, type CatalogEntry } from "./events/EventCatalog.js"
export { coreEvents } from "./events/coreEvents.js"
export { EventsApi, EventTypeInfo, EventTypeList, ConsumerList, DeadLetter, DeadLetterPage, ReplayOutcome, ReplayPending } from "./events/EventsApi.js"
export { actingAs, type Principal } from "./authorization/actingAs.js"
export { MachineRecord } from "./machines/Machine.js"
export { InvalidTransition, MachineNotFound, OperatorAction } from "./machines/MachineErrors.js"
export {
  ActivationFailed,
  AkMismatch,
  ChallengeExpired,
  ChallengeOutstanding,
  ChallengeRefused,
  ChallengeTooSoon,
  EkCertificateRequired,
  HostnameTaken,
  InvalidEnrollmentInput,
  NoChallenge,
  RegistrationRateLimited
} from "./enrollment/EnrollmentErrors.js"
export {
  AttestationFailed,
  CountedFailure,
  EvidenceRejected,
  MachineCannotAttest,
  MalformedEvidence,
  NotEnrolled,
  PolicyChangedSinceChallenge,
  TooManyChallenges,
  UnverifiedAttestationsLimited
} from "./attestation/AttestationErrors.js"
export { IsoTimestamp } from "./schema/IsoTimestamp.js"
