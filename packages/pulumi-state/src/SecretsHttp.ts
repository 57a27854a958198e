/** Handlers of the secrets routes: encrypt, decrypt, batch-encrypt, batch-decrypt and the CLI's audit pings. */
import type { HttpServerRequest } from "@effect/platform"
import { groupUsing } from "@itl-attestation/core"
import { Effect } from "effect"
import { checkRef } from "./names.js"
import { PulumiApi } from "./PulumiApi.js"
import { PulumiAuth, type Right } from "./PulumiAuth.js"
import { badField, json } from "./PulumiError.js"
import { objectBody } from "./request.js"
import { decodeBase64, MAX_BATCH, Secrets } from "./Secrets.js"
import { Stacks } from "./Stacks.js"
import { PulumiSettings } from "./PulumiConfig.js"
import { stackRef, whenEnabled } from "./StacksHttp.js"

type StackPath = { readonly org: string; readonly project: string; readonly stack: string }

const list = (value: unknown, field: string) =>
  Array.isArray(value) && value.length <= MAX_BATCH ? Effect.succeed(value as ReadonlyArray<unknown>) : badField(field, `must be an array of at most ${MAX_BATCH} base64 strings`)

export const PulumiSecretsHttp = groupUsing(PulumiAuth, Stacks, Secrets, PulumiSettings)(PulumiApi, "pulumiSecrets", (handlers) =>
  Effect.gen(function* () {
    const auth = yield* PulumiAuth
    const stacks = yield* Stacks
    const secrets = yield* Secrets
    const serve = yield* whenEnabled

    const withStack = (request: HttpServerRequest.HttpServerRequest, path: StackPath, right: Right) =>
      Effect.gen(function* () {
        const ref = stackRef(path)
        yield* auth.authorize(request, right, { org: ref.org, project: ref.project })
        yield* checkRef(ref)
        return yield* stacks.get(ref)
      })

    return handlers
      .handleRaw("encrypt", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const stack = yield* withStack(request, path, "write")
            const plaintext = yield* decodeBase64((yield* objectBody(request)).plaintext, "plaintext")
            const [ciphertext] = yield* secrets.encrypt(stack, [plaintext])
            return json({ ciphertext: ciphertext!.toString("base64") })
          })
        )
      )
      .handleRaw("batchEncrypt", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const stack = yield* withStack(request, path, "write")
            const values = yield* list((yield* objectBody(request)).plaintexts, "plaintexts")
            const plaintexts = yield* Effect.forEach(values, (v, i) => decodeBase64(v, `plaintexts[${i}]`))
            const ciphertexts = yield* secrets.encrypt(stack, plaintexts)
            return json({ ciphertexts: ciphertexts.map((c) => c.toString("base64")) })
          })
        )
      )
      .handleRaw("decrypt", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const stack = yield* withStack(request, path, "read")
            const bytes = yield* decodeBase64((yield* objectBody(request)).ciphertext, "ciphertext")
            const [plaintext] = yield* secrets.decrypt(stack, [{ bytes, field: "ciphertext" }])
            return json({ plaintext: plaintext!.toString("base64") })
          })
        )
      )
      .handleRaw("batchDecrypt", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const stack = yield* withStack(request, path, "read")
            const values = yield* list((yield* objectBody(request)).ciphertexts, "ciphertexts")
            const inputs = yield* Effect.forEach(values, (v, i) => Effect.map(decodeBase64(v, `ciphertexts[${i}]`), (bytes) => ({ bytes, field: `ciphertexts[${i}]` })))
            const plaintexts = yield* secrets.decrypt(stack, inputs)
            // Keyed by the ciphertext as the CLI sent it: it looks each one up by its own string.
            const map: Record<string, string> = {}
            values.forEach((v, i) => {
              map[v as string] = plaintexts[i]!.toString("base64")
            })
            return json({ plaintexts: map })
          })
        )
      )
      .handleRaw("logDecryption", ({ request, path }) => serve(Effect.as(withStack(request, path, "read"), json({}))))
      .handleRaw("logBatchDecryption", ({ request, path }) => serve(Effect.as(withStack(request, path, "read"), json({}))))
  })
)
