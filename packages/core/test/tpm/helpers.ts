import {
  constants,
  createDecipheriv,
  createECDH,
  createHmac,
  generateKeyPairSync,
  privateDecrypt,
  type KeyObject,
} from "node:crypto";
import { expect } from "vitest";
import {
  kdfa,
  kdfe,
  parseTpm2bPublic,
  hashInfo,
  curveInfo,
  TpmParseError,
  type MakeCredentialResult,
  type TpmPublic,
} from "../../src/tpm/index.js";

/** Runs fn and asserts it throws a TpmParseError (and nothing else); returns it for field checks. */
export function parseErrorOf(fn: () => unknown): TpmParseError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (!(thrown instanceof TpmParseError)) {
    throw new Error(`expected TpmParseError, got ${thrown === undefined ? "no error" : String(thrown)}`, {
      cause: thrown,
    });
  }
  expect(thrown.field.length).toBeGreaterThan(0);
  return thrown;
}

/** Every strict prefix of a valid structure must be rejected with a TpmParseError. */
export function expectAllPrefixesRejected(buf: Buffer, parse: (b: Buffer) => unknown): void {
  for (let n = 0; n < buf.length; n++) parseErrorOf(() => parse(buf.subarray(0, n)));
}

/**
 * Flips each byte in turn: the parser may accept the mutant (many fields have
 * no invalid values) but must never throw anything other than TpmParseError.
 */
export function expectMutantsSafe(buf: Buffer, parse: (b: Buffer) => unknown): void {
  for (let i = 0; i < buf.length; i++) {
    for (const x of [0xff, 0x80, 0x01]) {
      const m = Buffer.from(buf);
      m[i] = (m[i] ?? 0) ^ x;
      try {
        parse(m);
      } catch (e) {
        if (!(e instanceof TpmParseError)) throw new Error(`byte ${i} ^ ${x}: ${String(e)}`, { cause: e });
      }
    }
  }
}

const u16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
};

const EK_POLICY_SHA256 = Buffer.from("837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa", "hex");

/** A software EK in the TCG L-1 (RSA-2048) / L-2 (P-256) template shape, with its private key. */
export function softwareEk(type: "rsa" | "ecc"): { ek: TpmPublic; privateKey: KeyObject; tpm2b: Buffer } {
  const header = Buffer.concat([u16(type === "rsa" ? 0x0001 : 0x0023), u16(0x000b), Buffer.from("000300b2", "hex")]);
  const policy = Buffer.concat([u16(32), EK_POLICY_SHA256]);
  const aes128cfb = Buffer.from("000600800043", "hex");
  let area: Buffer;
  let privateKey: KeyObject;
  if (type === "rsa") {
    const kp = generateKeyPairSync("rsa", { modulusLength: 2048 });
    privateKey = kp.privateKey;
    const n = Buffer.from(kp.publicKey.export({ format: "jwk" }).n ?? "", "base64url");
    area = Buffer.concat([header, policy, aes128cfb, u16(0x0010), u16(2048), Buffer.alloc(4), u16(n.length), n]);
  } else {
    const kp = generateKeyPairSync("ec", { namedCurve: "P-256" });
    privateKey = kp.privateKey;
    const jwk = kp.publicKey.export({ format: "jwk" });
    const x = Buffer.from(jwk.x ?? "", "base64url");
    const y = Buffer.from(jwk.y ?? "", "base64url");
    area = Buffer.concat([header, policy, aes128cfb, u16(0x0010), u16(0x0003), u16(0x0010), u16(32), x, u16(32), y]);
  }
  const tpm2b = Buffer.concat([u16(area.length), area]);
  return { ek: parseTpm2bPublic(tpm2b), privateKey, tpm2b };
}

/** TPM2_ActivateCredential in software, as an independent check of makeCredential. */
export function softwareActivate(
  ek: TpmPublic,
  ekPrivate: KeyObject,
  akName: Buffer,
  cred: MakeCredentialResult,
): Buffer {
  const h = hashInfo(ek.nameAlg);
  if (h === undefined || ek.parameters.symmetric === null) throw new Error("bad EK");
  const encSecret = cred.encryptedSecret.subarray(2);
  let seed: Buffer;
  if (ek.type === "rsa") {
    seed = privateDecrypt(
      {
        key: ekPrivate,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: h.name,
        oaepLabel: Buffer.from("IDENTITY\0", "ascii"),
      },
      encSecret,
    );
  } else {
    const curve = curveInfo(ek.parameters.curveId);
    if (curve === undefined) throw new Error("bad curve");
    const xLen = encSecret.readUInt16BE(0);
    const xE = encSecret.subarray(2, 2 + xLen);
    const yE = encSecret.subarray(4 + xLen);
    const ecdh = createECDH(curve.nodeName);
    ecdh.setPrivateKey(Buffer.from(ekPrivate.export({ format: "jwk" }).d ?? "", "base64url"));
    const z = ecdh.computeSecret(Buffer.concat([Buffer.from([4]), xE, yE]));
    seed = kdfe(ek.nameAlg, z, "IDENTITY", xE, ek.unique.x, h.size * 8);
  }
  const idObject = cred.credentialBlob.subarray(2);
  const hmacLen = idObject.readUInt16BE(0);
  const integrity = idObject.subarray(2, 2 + hmacLen);
  const encIdentity = idObject.subarray(2 + hmacLen);
  const hmacKey = kdfa(ek.nameAlg, seed, "INTEGRITY", Buffer.alloc(0), Buffer.alloc(0), h.size * 8);
  const expected = createHmac(h.name, hmacKey).update(encIdentity).update(akName).digest();
  if (!expected.equals(integrity)) throw new Error("integrity check failed");
  const bits = ek.parameters.symmetric.keyBits;
  const symKey = kdfa(ek.nameAlg, seed, "STORAGE", akName, Buffer.alloc(0), bits);
  const d = createDecipheriv(`aes-${bits}-cfb`, symKey, Buffer.alloc(16));
  const plain = Buffer.concat([d.update(encIdentity), d.final()]);
  const len = plain.readUInt16BE(0);
  if (len !== plain.length - 2) throw new Error("bad inner size");
  return plain.subarray(2);
}

/** A software key with the attributes and ECDSA-SHA256 scheme tpm2_createak uses. */
export function softwareEccAk(): { ak: TpmPublic; privateKey: KeyObject } {
  const kp = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = kp.publicKey.export({ format: "jwk" });
  const x = Buffer.from(jwk.x ?? "", "base64url");
  const y = Buffer.from(jwk.y ?? "", "base64url");
  const area = Buffer.concat([
    Buffer.from("0023000b00050072000000100018000b00030010", "hex"),
    u16(32),
    x,
    u16(32),
    y,
  ]);
  return { ak: parseTpm2bPublic(Buffer.concat([u16(area.length), area])), privateKey: kp.privateKey };
}
