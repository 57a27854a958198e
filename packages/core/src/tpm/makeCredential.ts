import { constants, createCipheriv, createECDH, createHmac, publicEncrypt, randomBytes } from "node:crypto";
import { curveInfo, hashInfo, hex16, requireHash } from "./algorithms.js";
import { TPM2_TOOLS_CREDENTIAL_VERSION, TPM2_TOOLS_FILE_MAGIC, TPM_ALG } from "./constants.js";
import { TpmParseError } from "./errors.js";
import { kdfa, kdfe } from "./kdf.js";
import { leftPad, publicKeyFromTpmPublic, type TpmEccPublic, type TpmPublic, type TpmRsaPublic } from "./public.js";
import { TpmReader } from "./reader.js";

export interface MakeCredentialInput {
  /** The EK (parsed TPM2B_PUBLIC). Its own nameAlg and symmetric drive every algorithm choice. */
  readonly ekPublic: TpmPublic;
  /** Full Name of the AK (with the 2-byte nameAlg prefix). */
  readonly objectName: Uint8Array;
  /** The credential; 1..digest size of the EK nameAlg bytes (the TPM rejects longer ones). */
  readonly secret: Uint8Array;
  /** Testing only: fixes the RSA seed (must be digest-size bytes). Never set in production. */
  readonly seed?: Uint8Array;
  /** Testing only: fixes the ECC ephemeral private scalar. Never set in production. */
  readonly ephemeralPrivateKey?: Uint8Array;
}

export interface MakeCredentialResult {
  /** TPM2B_ID_OBJECT: size || (TPM2B_DIGEST integrityHMAC || encIdentity). */
  readonly credentialBlob: Buffer;
  /** TPM2B_ENCRYPTED_SECRET: size || (OAEP ciphertext | TPMS_ECC_POINT). */
  readonly encryptedSecret: Buffer;
}

const LABEL_IDENTITY = "IDENTITY";

/**
 * TPM2_MakeCredential in software: only the TPM holding the EK's private key,
 * and only if it also holds a loaded object with `objectName`, can recover
 * `secret` via TPM2_ActivateCredential.
 *
 * Throws TpmParseError (field "ek_public.*") when the EK cannot protect a
 * credential (these bytes come from the client), and RangeError for caller
 * mistakes in `secret`/`objectName`/test parameters.
 */
export function makeCredential(input: MakeCredentialInput): MakeCredentialResult {
  const ek = input.ekPublic;
  const nameHash = requireHash(ek.nameAlg, "ek_public.nameAlg");
  const sym = ek.parameters.symmetric;
  if (sym === null || sym.algorithm !== TPM_ALG.AES || sym.mode !== TPM_ALG.CFB) {
    throw new TpmParseError("ek_public.parameters.symmetric", "EK symmetric must be AES-CFB to protect a credential");
  }
  if (sym.keyBits !== 128 && sym.keyBits !== 192 && sym.keyBits !== 256) {
    throw new TpmParseError("ek_public.parameters.symmetric.keyBits", `unsupported AES key size ${sym.keyBits}`);
  }
  if (input.secret.length < 1 || input.secret.length > nameHash.size) {
    throw new RangeError(`secret must be 1..${nameHash.size} bytes for a ${nameHash.name} EK`);
  }
  checkName(input.objectName);

  const { seed, encSecret } =
    ek.type === "rsa" ? rsaSeed(ek, nameHash.size, input.seed) : eccSeed(ek, nameHash.size, input.ephemeralPrivateKey);

  const symKey = kdfa(ek.nameAlg, seed, "STORAGE", input.objectName, Buffer.alloc(0), sym.keyBits);
  const hmacKey = kdfa(ek.nameAlg, seed, "INTEGRITY", Buffer.alloc(0), Buffer.alloc(0), nameHash.size * 8);

  // The plaintext is a marshalled TPM2B_DIGEST: its size lives inside the ciphertext.
  const plain = Buffer.concat([u16be(input.secret.length), input.secret]);
  const cipher = createCipheriv(`aes-${sym.keyBits}-cfb`, symKey, Buffer.alloc(16));
  const encIdentity = Buffer.concat([cipher.update(plain), cipher.final()]);
  const integrity = createHmac(nameHash.name, hmacKey).update(encIdentity).update(input.objectName).digest();

  const idObject = Buffer.concat([u16be(integrity.length), integrity, encIdentity]);
  return {
    credentialBlob: Buffer.concat([u16be(idObject.length), idObject]),
    encryptedSecret: Buffer.concat([u16be(encSecret.length), encSecret]),
  };
}

function checkName(name: Uint8Array): void {
  const alg = name.length >= 2 ? (name[0]! << 8) | name[1]! : -1;
  const h = hashInfo(alg);
  if (h === undefined || name.length !== 2 + h.size) {
    throw new RangeError("objectName must be a full TPM Name (2-byte nameAlg || digest)");
  }
}

/** RSA EK: the seed travels RSA-OAEP encrypted with label "IDENTITY\0" under the EK nameAlg. */
function rsaSeed(ek: TpmRsaPublic, hLen: number, testSeed: Uint8Array | undefined) {
  if (testSeed !== undefined && testSeed.length !== hLen) throw new RangeError(`seed must be ${hLen} bytes`);
  const seed = testSeed !== undefined ? Buffer.from(testSeed) : randomBytes(hLen);
  const key = publicKeyFromTpmPublic(ek, "ek_public");
  const hash = requireHash(ek.nameAlg, "ek_public.nameAlg");
  let encSecret: Buffer;
  try {
    encSecret = publicEncrypt(
      {
        key,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: hash.name,
        oaepLabel: Buffer.from(`${LABEL_IDENTITY}\0`, "ascii"),
      },
      seed,
    );
  } catch (e) {
    throw new TpmParseError("ek_public.unique", `RSA-OAEP with this EK failed: ${(e as Error).message}`);
  }
  return { seed, encSecret };
}

/**
 * ECC EK: one-pass ECDH with an ephemeral key; the seed is KDFe over the shared
 * x-coordinate. The TPM feeds the x bytes exactly as transmitted into KDFe, so
 * the ephemeral point is always written (and hashed) at full coordinate length,
 * while the EK's x is used exactly as it appears in its public area.
 */
function eccSeed(ek: TpmEccPublic, hLen: number, testPriv: Uint8Array | undefined) {
  const curve = curveInfo(ek.parameters.curveId);
  if (curve === undefined) {
    throw new TpmParseError("ek_public.parameters.curveId", `unsupported curve 0x${hex16(ek.parameters.curveId)}`);
  }
  // Validates that the EK point is on its curve before we do ECDH with it.
  publicKeyFromTpmPublic(ek, "ek_public");
  const ecdh = createECDH(curve.nodeName);
  if (testPriv !== undefined) ecdh.setPrivateKey(Buffer.from(testPriv));
  else ecdh.generateKeys();
  const ephemeral = ecdh.getPublicKey(null, "uncompressed");
  const xE = ephemeral.subarray(1, 1 + curve.size);
  const yE = ephemeral.subarray(1 + curve.size);
  const ekPoint = Buffer.concat([Buffer.from([4]), leftPad(ek.unique.x, curve.size), leftPad(ek.unique.y, curve.size)]);
  let z: Buffer;
  try {
    z = leftPad(ecdh.computeSecret(ekPoint), curve.size);
  } catch (e) {
    throw new TpmParseError("ek_public.unique", `ECDH with this EK failed: ${(e as Error).message}`);
  }
  const seed = kdfe(ek.nameAlg, z, LABEL_IDENTITY, xE, ek.unique.x, hLen * 8);
  const encSecret = Buffer.concat([u16be(xE.length), xE, u16be(yE.length), yE]);
  return { seed, encSecret };
}

/**
 * The file `tpm2_makecredential -o` writes and `tpm2_activatecredential -i`
 * reads: magic 0xBADCC0DE, version 1 (both UINT32 BE), TPM2B_ID_OBJECT,
 * TPM2B_ENCRYPTED_SECRET.
 */
export function toTpm2ToolsCredentialFile(result: MakeCredentialResult): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(TPM2_TOOLS_FILE_MAGIC, 0);
  header.writeUInt32BE(TPM2_TOOLS_CREDENTIAL_VERSION, 4);
  return Buffer.concat([header, result.credentialBlob, result.encryptedSecret]);
}

/** Inverse of toTpm2ToolsCredentialFile (e.g. to inspect `tpm2_makecredential -T none` output). */
export function parseTpm2ToolsCredentialFile(buf: Uint8Array, label = "credential_file"): MakeCredentialResult {
  const r = new TpmReader(buf, label);
  const magic = r.u32(`${label}.magic`);
  if (magic !== TPM2_TOOLS_FILE_MAGIC) throw new TpmParseError(`${label}.magic`, `bad magic 0x${magic.toString(16)}`);
  const version = r.u32(`${label}.version`);
  if (version !== TPM2_TOOLS_CREDENTIAL_VERSION) {
    throw new TpmParseError(`${label}.version`, `unsupported version ${version}`);
  }
  const idObject = r.tpm2b(`${label}.credentialBlob`);
  const secret = r.tpm2b(`${label}.encryptedSecret`);
  r.expectEnd(label);
  return {
    credentialBlob: Buffer.concat([u16be(idObject.length), idObject]),
    encryptedSecret: Buffer.concat([u16be(secret.length), secret]),
  };
}

function u16be(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}
