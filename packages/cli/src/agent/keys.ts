/**
 * The TPM side of the agent: the EK and AK, the EK certificate, credential
 * activation, and reloading the keys when their saved contexts went stale.
 *
 * Keys live in the state directory as tpm2-tools files. `ek.ctx`/`ak.ctx`
 * are saved contexts: later tools reload them as long as the TPM has not been
 * reset or restarted since. After a reset the TPM refuses them (0x1DF), so the
 * AK is also kept as `ak.pub` + `ak.priv` (its private part wrapped by the
 * EK): the EK is re-created (same template, same key) and the AK loaded under
 * it with the EK's policy session.
 */
import { Effect, Option } from "effect"
import { CliFailure } from "../errors.js"
import { type AkScheme, FILES, type KeyAlg, readFileIn, removeFiles, writePrivate } from "./state.js"
import { flushed, isStaleContext, tpm2, Tpm2Error } from "./tpm2.js"

/** The AK signing scheme tpm2_createak is asked for. */
export const schemeFor = (alg: KeyAlg): AkScheme => (alg === "rsa" ? "rsassa" : "ecdsa")

/** TCG EK Credential Profile NV indexes: RSA-2048 (L-1) and ECC P-256 (L-2) EK certificates. */
const EK_CERT_INDEX: Record<KeyAlg, string> = { rsa: "0x01c00002", ecc: "0x01c0000a" }

/** `tpm2_createek -G <alg> -c ek.ctx -u <file>`; the TCG template makes the same EK every time. */
export const createEk = (dir: string, alg: KeyAlg, publicFile: string = FILES.ekPublic) =>
  flushed(dir, tpm2(dir, "tpm2_createek", ["-G", alg, "-c", FILES.ekContext, "-u", publicFile]))

/** `tpm2_createak` under the EK; keeps `-r ak.priv` so the AK can be reloaded after a TPM reset. */
export const createAk = (dir: string, alg: KeyAlg, scheme: AkScheme) =>
  flushed(
    dir,
    tpm2(dir, "tpm2_createak", [
      "-C", FILES.ekContext,
      "-G", alg,
      "-g", "sha256",
      "-s", scheme,
      "-c", FILES.akContext,
      "-u", FILES.akPublic,
      "-n", FILES.akName,
      "-r", FILES.akPrivate
    ])
  )

/**
 * A DER certificate without the NV index's padding: an index is often larger
 * than the certificate it holds. Left as is when it is not a DER SEQUENCE.
 */
const trimDer = (der: Buffer): Buffer => {
  if (der.length < 2 || der[0] !== 0x30) return der
  const first = der[1]!
  if (first < 0x80) return der.subarray(0, Math.min(der.length, 2 + first))
  const octets = first & 0x7f
  if (octets === 0 || octets > 4 || der.length < 2 + octets) return der
  let length = 0
  for (let i = 0; i < octets; i++) length = length * 256 + der[2 + i]!
  return der.subarray(0, Math.min(der.length, 2 + octets + length))
}

/** The EK certificate from its NV index, or none (swtpm has no ECC P-256 one; many TPMs have none at all). */
export const readEkCertificate = (dir: string, alg: KeyAlg): Effect.Effect<Option.Option<Buffer>, CliFailure> =>
  tpm2(dir, "tpm2_nvread", [EK_CERT_INDEX[alg], "-C", "o", "-o", FILES.ekCertificate]).pipe(
    Effect.flatMap(() => readFileIn(dir, FILES.ekCertificate)),
    Effect.map((der) => (der.length === 0 ? Option.none() : Option.some(trimDer(der)))),
    Effect.catchTag("Tpm2Error", () => removeFiles(dir, FILES.ekCertificate).pipe(Effect.as(Option.none())))
  )

/**
 * Runs `use` with an EK policy session (PolicySecret on the endorsement
 * hierarchy, which the TCG EK's authPolicy requires), passing the `-P` value
 * to authorize the EK with. The session is flushed afterwards in any case.
 */
export const withEkPolicySession = <A, E, R>(dir: string, use: (auth: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    tpm2(dir, "tpm2_startauthsession", ["--policy-session", "-S", FILES.session]),
    () => tpm2(dir, "tpm2_policysecret", ["-S", FILES.session, "-c", "e"]).pipe(Effect.zipRight(use(`session:${FILES.session}`))),
    () => tpm2(dir, "tpm2_flushcontext", [FILES.session]).pipe(Effect.ignore, Effect.zipRight(removeFiles(dir, FILES.session)))
  )

/**
 * Re-creates the EK (checking it is the one enrolled) and loads the AK under
 * it, which rewrites `ek.ctx` and `ak.ctx` with contexts valid until the next reset.
 */
export const reloadKeys = (dir: string, ekAlg: KeyAlg) =>
  Effect.gen(function* () {
    const fresh = `${FILES.ekPublic}.now`
    yield* createEk(dir, ekAlg, fresh)
    const [enrolled, current] = yield* Effect.all([readFileIn(dir, FILES.ekPublic), readFileIn(dir, fresh)])
    yield* removeFiles(dir, fresh)
    if (!enrolled.equals(current)) {
      return yield* new CliFailure({
        message: `this TPM's ${ekAlg} EK is not the one in ${dir}/${FILES.ekPublic} (TPM cleared, or another TPM?); enroll again with a new --state-dir`
      })
    }
    yield* withEkPolicySession(dir, (auth) =>
      flushed(dir, tpm2(dir, "tpm2_load", ["-C", FILES.ekContext, "-u", FILES.akPublic, "-r", FILES.akPrivate, "-c", FILES.akContext, "-P", auth]))
    )
  })

/** Runs `use`; if the TPM refused a saved context, reloads the keys and runs it once more. */
export const withLoadedKeys = <A, E, R>(dir: string, ekAlg: KeyAlg, use: Effect.Effect<A, E | Tpm2Error, R>) =>
  use.pipe(
    Effect.catchIf(
      (error): error is Tpm2Error => error instanceof Tpm2Error && isStaleContext(error),
      () => reloadKeys(dir, ekAlg).pipe(Effect.zipRight(use))
    )
  )

/** Where `activateCredential` puts its input and output inside the state directory; both are removed afterwards. */
export interface CredentialFiles {
  readonly input: string
  readonly output: string
}

/**
 * TPM2_ActivateCredential: recovers the server's secret from `credentialFile`
 * (the file `tpm2_activatecredential -i` reads). Only this TPM's EK, with this
 * AK loaded, can; the recovered secret proves both to the server (enroll), or
 * is the key of a secret delivered to this machine (`agent secret get`).
 */
export const activateCredential = (
  dir: string,
  ekAlg: KeyAlg,
  credentialFile: Uint8Array,
  files: CredentialFiles = { input: FILES.credential, output: FILES.secret }
) =>
  Effect.gen(function* () {
    yield* writePrivate(dir, files.input, credentialFile)
    const activate = withEkPolicySession(dir, (auth) =>
      flushed(
        dir,
        tpm2(dir, "tpm2_activatecredential", [
          "-c", FILES.akContext,
          "-C", FILES.ekContext,
          "-i", files.input,
          "-o", files.output,
          "-P", auth
        ])
      )
    )
    yield* withLoadedKeys(dir, ekAlg, activate)
    return yield* readFileIn(dir, files.output)
  }).pipe(Effect.ensuring(removeFiles(dir, files.input, files.output)))
