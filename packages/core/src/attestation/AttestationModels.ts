import { Schema } from "effect"
import { IsoTimestamp } from "../schema/IsoTimestamp.js"
import { Machine, MachineId } from "../machines/Machine.js"
import { PcrValuesJson } from "./PcrPolicy.js"

export class AttestationChallengeRequest extends Schema.Class<AttestationChallengeRequest>("AttestationChallengeRequest")({
  machine_id: MachineId
}) {}

export class AttestationChallenge extends Schema.Class<AttestationChallenge>("AttestationChallenge")({
  /** 32 random bytes, hex: pass to `tpm2_quote -q`. Single use, 60 s. */
  nonce: Schema.String,
  /** The PCRs to quote, in `tpm2_quote -l` syntax. */
  pcr_selection: Schema.String,
  expires_at: IsoTimestamp
}) {}

export class AttestationRequest extends Schema.Class<AttestationRequest>("AttestationRequest")({
  machine_id: MachineId,
  /** Base64 TPMS_ATTEST (`tpm2_quote -m`). */
  quote: Schema.String.pipe(Schema.minLength(1)),
  /** Base64 TPMT_SIGNATURE (`tpm2_quote -s`). */
  signature: Schema.String.pipe(Schema.minLength(1)),
  /**
   * The quoted PCRs' values: `{bank: {index: hex}}` with exactly the quoted
   * PCRs, or the base64 of the file `tpm2_quote -o` wrote.
   */
  pcrs: Schema.Union(PcrValuesJson, Schema.String.pipe(Schema.minLength(1)))
}) {}

export class AttestationResult extends Schema.Class<AttestationResult>("AttestationResult")({
  /** `Authorization: Bearer <session_token>` for machine endpoints until `expires_at`. */
  session_token: Schema.String,
  expires_at: IsoTimestamp,
  machine: Machine
}) {}
