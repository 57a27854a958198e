/**
 * `agent status`: what the state directory says, and, with a live session
 * token, the server's view of this machine (`GET /machines/me`). Machines
 * authenticate only with a session, so without one there is no server view.
 */
import type { Machine } from "@itl-attestation/core/api"
import { Effect, Either, Option } from "effect"
import * as path from "node:path"
import { CliFailure } from "../errors.js"
import { type MachineServer, refusalLine, tryAgentApi } from "./api.js"
import { type AgentState, FILES, readSession, readState } from "./state.js"

export interface AgentStatus {
  readonly state_dir: string
  readonly state: AgentState
  /** The saved session (never its token). */
  readonly session: { readonly expires_at: string; readonly live: boolean } | null
  /** The server's record of this machine, when a session let us ask. */
  readonly server: Machine | null
  /** What to do next when there is no server view. */
  readonly note: string | null
}

const ATTEST = "run `attestation agent attest`"

export const status = (dir: string, url: MachineServer) =>
  Effect.gen(function* () {
    const saved = yield* readState(dir)
    if (Option.isNone(saved)) {
      return yield* new CliFailure({ message: `no agent state in ${path.join(dir, FILES.state)}; run \`attestation agent enroll\`` })
    }
    const state = saved.value
    const base = { state_dir: dir, state, session: null, server: null }
    if (state.machine_id === null) return { ...base, note: "keys made but not registered; run `attestation agent enroll`" } satisfies AgentStatus

    const stored = yield* readSession(dir)
    const ours = Option.filter(stored, (session) => session.machine_id === state.machine_id)
    if (Option.isNone(ours)) return { ...base, note: `no session; ${ATTEST}` } satisfies AgentStatus
    const session = ours.value
    const live = Date.parse(session.expires_at) > Date.now()
    const withSession = { ...base, session: { expires_at: session.expires_at, live } }
    if (!live) return { ...withSession, note: `session expired; ${ATTEST}` } satisfies AgentStatus

    const me = yield* tryAgentApi(url, Option.some(session.token), (client) => client.machineSelf.me())
    return Either.match(me, {
      onLeft: (refusal): AgentStatus => ({ ...withSession, note: `the server refused the session (${refusalLine(refusal)}); ${ATTEST}` }),
      onRight: (machine): AgentStatus => ({ ...withSession, server: machine, note: null })
    })
  })
