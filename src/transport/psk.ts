// Turns the cluster token into TLS 1.3 pre-shared keys, each named by a key id that reveals nothing of the token.
//
// token ──scrypt(salt "kaffix/psk/v1")──▶ 32-byte master ──HKDF-SHA256──┬─ info "kaffix/psk/v1/tls-key" → 32-byte PSK
//                                                                        └─ info "kaffix/psk/v1/key-id"  → 8 bytes, hex
//
// scrypt makes guessing a short token from a captured key id expensive; HKDF splits the one secret into
// independent values, so the key id on the wire says nothing about the PSK. Every label carries "v1":
// changing any parameter means a new label, and nodes on different labels simply never share a key.

import { hkdfSync, scrypt } from "node:crypto";
import { KaffixError } from "../errors.js";

const SCRYPT_SALT = "kaffix/psk/v1";
const SCRYPT_COST = 2 ** 15;
const SCRYPT_BLOCK_SIZE = 8;
/** scrypt needs 128 × N × r bytes (32 MiB here); Node's default ceiling is exactly that, so raise it. */
const SCRYPT_MAX_MEMORY = 64 * 1024 * 1024;
const TLS_KEY_INFO = "kaffix/psk/v1/tls-key";
const KEY_ID_INFO = "kaffix/psk/v1/key-id";
const IDENTITY_PREFIX = "kaffix1:";

export interface Psk {
  /** 16 hex characters naming the key; safe to send and to log. */
  keyId: string;
  /** The 32-byte TLS pre-shared key. */
  key: Buffer;
}

/** Derives the PSK and its key id from a token. Deterministic; takes tens of milliseconds (off the main thread). */
export async function derivePsk(token: string): Promise<Psk> {
  if (typeof token !== "string" || token.length === 0) throw new KaffixError("INVALID_ARGUMENT", "a token must be a non-empty string");
  const master = await new Promise<Buffer>((resolve, reject) => {
    const options = { N: SCRYPT_COST, r: SCRYPT_BLOCK_SIZE, p: 1, maxmem: SCRYPT_MAX_MEMORY };
    scrypt(token.normalize("NFC"), SCRYPT_SALT, 32, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
  const key = Buffer.from(hkdfSync("sha256", master, Buffer.alloc(0), TLS_KEY_INFO, 32));
  const keyId = Buffer.from(hkdfSync("sha256", master, Buffer.alloc(0), KEY_ID_INFO, 8)).toString("hex");
  master.fill(0);
  return { keyId, key };
}

/** The PSK identity a client presents: the key id, never the token. */
export function pskIdentity(keyId: string): string {
  return IDENTITY_PREFIX + keyId;
}

/** The key id in a PSK identity, or undefined when the identity is not one of ours. */
export function keyIdOf(identity: string): string | undefined {
  if (!identity.startsWith(IDENTITY_PREFIX)) return undefined;
  const keyId = identity.slice(IDENTITY_PREFIX.length);
  return /^[0-9a-f]{16}$/.test(keyId) ? keyId : undefined;
}
