/**
 * EK certificate checks: the certificate must certify the very EK the machine
 * sent, and, with a CA bundle configured, chain (through intermediates in the
 * bundle) to a self-signed root in the bundle, every link valid now.
 *
 * What this proves: that a manufacturer (or whoever the bundle trusts) vouched
 * for this EK. Without it, a software TPM's EK is indistinguishable from a
 * hardware one.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"

/** Reads every certificate in a PEM/DER file, or in every file of a directory. */
export const loadCaBundle = (location: string): Array<crypto.X509Certificate> => {
  const files = fs.statSync(location).isDirectory()
    ? fs.readdirSync(location).map((f) => path.join(location, f)).filter((f) => fs.statSync(f).isFile())
    : [location]
  const certificates: Array<crypto.X509Certificate> = []
  for (const file of files) {
    const content = fs.readFileSync(file)
    const text = content.toString("latin1")
    if (text.includes("-----BEGIN CERTIFICATE-----")) {
      for (const block of text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
        certificates.push(new crypto.X509Certificate(block))
      }
    } else {
      certificates.push(new crypto.X509Certificate(content))
    }
  }
  return certificates
}

const validAt = (cert: crypto.X509Certificate, now: Date) =>
  new Date(cert.validFrom) <= now && now <= new Date(cert.validTo)

const isSelfSigned = (cert: crypto.X509Certificate) => cert.checkIssued(cert) && cert.verify(cert.publicKey)

const MAX_DEPTH = 8

/** Returns undefined when the chain verifies, else the reason it does not. */
export const verifyChain = (
  leaf: crypto.X509Certificate,
  bundle: ReadonlyArray<crypto.X509Certificate>,
  now = new Date()
): string | undefined => {
  let current = leaf
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    if (!validAt(current, now)) return `certificate ${current.subject.replace(/\n/g, ",")} is not valid now`
    if (bundle.some((anchor) => anchor.raw.equals(current.raw)) && isSelfSigned(current)) return undefined
    const issuer = bundle.find((candidate) => current.checkIssued(candidate) && current.verify(candidate.publicKey))
    if (issuer === undefined) return `no certificate in ITL_TPM_CA_BUNDLE issued ${current.subject.replace(/\n/g, ",")}`
    if (issuer.ca !== true) return `issuer ${issuer.subject.replace(/\n/g, ",")} is not a CA`
    if (issuer.raw.equals(current.raw)) return `certificate ${current.subject.replace(/\n/g, ",")} is self-signed but not in the bundle`
    current = issuer
  }
  return "certificate chain is too long"
}
