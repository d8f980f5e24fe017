// The phone's bus identity: its own user nkey, made here and kept in IndexedDB, and the one
// place that knows how a phone gets its permissions (client/src/enrol.rs does the same).
//
// A key not enrolled yet connects with a stamp in its name (a little work, computed once and
// kept) and may then only publish `posfee.identity.enrol.<device>`, ask its status and hear
// its inboxes (the server asks the identity service about every connection). The phone asks
// to be enrolled with `{nkey, proof, stamp}` (proof = the key's signature over
// "posfee.enrol.v1:" + nkey), gets `{device_id, enrolled_at}`, closes that connection and
// connects again with the same key, now with the phone's permissions. It remembers that it
// enrolled, so later starts connect at once; asking again is harmless (the first enrolment
// is answered). A key the system refuses for a reason is told why (its key status).
import { createUser, fromSeed, type KeyPair } from "@nats-io/nkeys";
import { nkeyAuthenticator, wsconnect, type NatsConnection } from "@nats-io/nats-core";
import { sha256 } from "@noble/hashes/sha2";
import { deviceIdOfNkey, newToken } from "./ids.ts";
import { busSeed, isEnrolled, markEnrolled, saveBusSeed, stamp as savedStamp, saveStamp } from "./store.ts";
import { deviceInboxPrefix, identityEnrol, identityStatus, statusReply } from "./subjects.ts";
import { call, int, oneOf, optional, shape, str, utf8, wireError, WireError } from "./wire.ts";

export const ENROL_TIMEOUT_MS = 5_000;
/** Leading zero bits a new key's stamp needs to connect (`CONNECT_STAMP_BITS`). */
export const CONNECT_STAMP_BITS = 16;
/** The most bits enrolling ever asks for (`MAX_STAMP_BITS`). */
export const MAX_STAMP_BITS = 28;

/** The server refused the key and nobody could say why (the identity service may be starting). */
export class NotEnrolled extends WireError {
  constructor(public publicKey: string) {
    super("UNAVAILABLE", 503, `the server refused this phone's key ${publicKey} without saying why: the system may be starting; the phone tries again`);
  }
}

/** The system refuses this key and said why (revoked, or its device id is another key's). */
export class KeyRefused extends WireError {
  constructor(readonly key: KeyStatus) {
    super("FORBIDDEN", 403, key.message);
  }
}

export interface Bus {
  nc: NatsConnection;
  device: string;
  publicKey: string;
}

export interface EnrolReply {
  device_id: string;
  enrolled_at: string;
}
export const EnrolReply = shape<EnrolReply>({ device_id: str, enrolled_at: str });

/** `KeyStatus`: what the system takes a key for (contract section 1). */
export interface KeyStatus {
  nkey: string;
  state: "active" | "revoked" | "unenrolled" | "conflict";
  holder?: { kind: string; id: string } | null;
  since?: string | null;
  stamp_bits: number;
  message: string;
}
export const KeyStatus = shape<KeyStatus>({
  nkey: str,
  state: oneOf("active", "revoked", "unenrolled", "conflict"),
  holder: optional(shape<{ kind: string; id: string }>({ kind: str, id: str })),
  since: optional(str),
  stamp_bits: int,
  message: str,
});

/** The leading zero bits of `nkey`'s stamp `n` (`stamp_bits`): SHA-256 of "posfee.stamp.v1:" + nkey + ":" + n. */
export function stampBits(nkey: string, n: number): number {
  return bitsOf(stamped(keyPart(nkey), n));
}

/** SHA-256 over the tag, the key and ":": the part every try of one key shares. */
function keyPart(nkey: string) {
  return sha256.create().update(utf8.encode(`posfee.stamp.v1:${nkey}:`));
}

/** The digest of one try: the shared part and the stamp in decimal. */
function stamped(part: ReturnType<typeof keyPart>, n: number): Uint8Array {
  return part.clone().update(utf8.encode(String(n))).digest();
}

function bitsOf(d: Uint8Array): number {
  let bits = 0;
  for (const byte of d) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    bits += Math.clz32(byte) - 24;
    break;
  }
  return bits;
}

/** The first stamp from `from` with at least `bits` leading zero bits (`find_stamp`): about
 * 2^bits hashes, the key's part hashed once and every try in the same buffers (a cheap phone
 * does this once per key). */
export function findStamp(nkey: string, bits: number, from = 0): number {
  const part = keyPart(nkey);
  const h = sha256.create();
  const digest = new Uint8Array(32);
  const digits = new Uint8Array(20);
  for (let n = from; ; n++) {
    part._cloneInto(h);
    h.update(decimal(n, digits));
    h.digestInto(digest);
    if (bitsOf(digest) >= bits) return n;
  }
}

/** `n` in decimal ASCII, written at the end of `buf`. */
function decimal(n: number, buf: Uint8Array): Uint8Array {
  let at = buf.length;
  do {
    buf[--at] = 48 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  return buf.subarray(at);
}

/** The bits a STAMP_TOO_WEAK refusal asks for (`stamp_needed`). */
export function stampNeeded(message: string): number | undefined {
  const m = /needs at least (\d+)/.exec(message);
  return m ? Number.parseInt(m[1], 10) : undefined;
}

/** This phone's bus key: the stored one, or a new one stored before it is used. */
export async function busKey(): Promise<KeyPair> {
  const seed = await busSeed();
  if (seed) return fromSeed(utf8.encode(seed));
  const kp = createUser();
  await saveBusSeed(new TextDecoder().decode(kp.getSeed()));
  return kp;
}

/** This key's stamp of at least `bits`, computed once and kept. */
async function keyStamp(kp: KeyPair, bits: number): Promise<number> {
  const kept = await savedStamp(kp.getPublicKey());
  if (kept !== undefined && stampBits(kp.getPublicKey(), kept) >= bits) return kept;
  const n = findStamp(kp.getPublicKey(), bits, kept === undefined ? 0 : kept + 1);
  await saveStamp(kp.getPublicKey(), n);
  return n;
}

/** Forgets this phone's key (after the system revoked it): the next start makes a new one. */
export async function newKey(): Promise<void> {
  const kp = createUser();
  await saveBusSeed(new TextDecoder().decode(kp.getSeed()));
}

export function enrolProof(kp: KeyPair): Uint8Array {
  return kp.sign(utf8.encode(`posfee.enrol.v1:${kp.getPublicKey()}`));
}

async function open(wsUrl: string, kp: KeyPair, device: string, stamp?: number): Promise<NatsConnection> {
  try {
    return await wsconnect({
      servers: [wsUrl],
      authenticator: nkeyAuthenticator(kp.getSeed()),
      inboxPrefix: deviceInboxPrefix(device),
      name: stamp === undefined ? "posfee-phone" : `posfee-phone stamp=${stamp}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
    });
  } catch (e) {
    const text = String((e as Error)?.message ?? e);
    if (/authori[sz]ation/i.test(text)) throw new NotEnrolled(kp.getPublicKey());
    throw wireError("UNAVAILABLE", `cannot reach the server at ${wsUrl}: ${text}`);
  }
}

/** What the system takes this key for (`bus::key_status`), answered on the key's own status inbox. */
export async function keyStatus(nc: NatsConnection, publicKey: string): Promise<KeyStatus> {
  return call(nc, identityStatus(publicKey), null, KeyStatus, ENROL_TIMEOUT_MS, statusReply(publicKey, newToken()));
}

/** Enrols the connection's own key with its stamp, computing a stronger one while enrolling asks for it. */
async function enrolOn(nc: NatsConnection, kp: KeyPair, device: string, stamp: number): Promise<void> {
  for (;;) {
    try {
      const reply = await call(
        nc,
        identityEnrol(device),
        { nkey: kp.getPublicKey(), proof: enrolProof(kp), stamp },
        EnrolReply,
        ENROL_TIMEOUT_MS,
      );
      if (reply.device_id !== device) {
        throw wireError("INTERNAL", `enrolled as ${reply.device_id}, but this phone's key makes ${device}`);
      }
      return;
    } catch (e) {
      const needed = e instanceof WireError && e.code === "STAMP_TOO_WEAK" ? stampNeeded(e.message) : undefined;
      if (needed === undefined || needed > MAX_STAMP_BITS) throw e;
      stamp = await keyStamp(kp, needed);
    }
  }
}

/**
 * Connects as this phone with its permissions, enrolling the key first if this phone has not.
 * A key the system refuses for a reason (revoked, its device id taken) is let in only to ask
 * why: that answer is thrown as `KeyRefused`, so the payer is told what to do.
 */
export async function connectPhone(wsUrl: string): Promise<Bus> {
  const kp = await busKey();
  const publicKey = kp.getPublicKey();
  const device = deviceIdOfNkey(publicKey);
  if (await isEnrolled(device)) {
    const nc = await open(wsUrl, kp, device);
    const status = await keyStatus(nc, publicKey).catch(() => undefined);
    if (status && status.state !== "active") {
      await nc.close().catch(() => {});
      throw new KeyRefused(status);
    }
    return { nc, device, publicKey };
  }
  const stamp = await keyStamp(kp, CONNECT_STAMP_BITS);
  const nc = await open(wsUrl, kp, device, stamp);
  try {
    const status = await keyStatus(nc, publicKey);
    if (status.state === "revoked" || status.state === "conflict") throw new KeyRefused(status);
    if (status.state === "unenrolled") await enrolOn(nc, kp, device, await keyStamp(kp, Math.max(CONNECT_STAMP_BITS, status.stamp_bits)));
  } catch (e) {
    if (e instanceof WireError) throw e;
    throw wireError("UNAVAILABLE", `enrolling this phone: ${(e as Error).message}`);
  } finally {
    await nc.close().catch(() => {});
  }
  await markEnrolled(device);
  return { nc: await open(wsUrl, kp, device), device, publicKey };
}

/** The public half and device id, without connecting (the device screen shows them). */
export async function identity(): Promise<{ publicKey: string; device: string }> {
  const kp = await busKey();
  return { publicKey: kp.getPublicKey(), device: deviceIdOfNkey(kp.getPublicKey()) };
}
