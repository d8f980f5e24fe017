// The phone's bus identity: its own user nkey, made here and kept in IndexedDB, and the one
// place that knows how a phone gets its permissions (client/src/enrol.rs does the same).
//
// A key not enrolled yet may only publish `posfee.identity.enrol.<device>` and hear
// `_INBOX.device.<device>.>` (the server asks the identity service about every connection).
// The phone asks to be enrolled with `{nkey, proof}` (proof = the key's signature over
// "posfee.enrol.v1:" + nkey), gets `{device_id, enrolled_at}`, closes that connection and
// connects again with the same key, now with the phone's permissions. It remembers that it
// enrolled, so later starts connect at once; asking again is harmless (the first enrolment
// is answered).
import { createUser, fromSeed, type KeyPair } from "@nats-io/nkeys";
import { nkeyAuthenticator, wsconnect, type NatsConnection } from "@nats-io/nats-core";
import { deviceIdOfNkey } from "./ids.ts";
import { busSeed, isEnrolled, markEnrolled, saveBusSeed } from "./store.ts";
import { call, utf8, wireError, WireError } from "./wire.ts";

export const ENROL_TIMEOUT_MS = 5_000;

/** The server refused the key: it was revoked (or the identity service is not running). */
export class NotEnrolled extends WireError {
  constructor(public publicKey: string) {
    super("FORBIDDEN", 403, `the server refused this phone's key ${publicKey}: it was revoked, or the system is starting; a revoked phone makes a new key (clear the app's data)`);
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

/** This phone's bus key: the stored one, or a new one stored before it is used. */
export async function busKey(): Promise<KeyPair> {
  const seed = await busSeed();
  if (seed) return fromSeed(utf8.encode(seed));
  const kp = createUser();
  await saveBusSeed(new TextDecoder().decode(kp.getSeed()));
  return kp;
}

export function enrolSubject(device: string): string {
  return `posfee.identity.enrol.${device}`;
}

export function enrolProof(kp: KeyPair): Uint8Array {
  return kp.sign(utf8.encode(`posfee.enrol.v1:${kp.getPublicKey()}`));
}

async function open(wsUrl: string, kp: KeyPair, device: string): Promise<NatsConnection> {
  try {
    return await wsconnect({
      servers: [wsUrl],
      authenticator: nkeyAuthenticator(kp.getSeed()),
      inboxPrefix: `_INBOX.device.${device}`,
      name: "posfee-phone",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
    });
  } catch (e) {
    const text = String((e as Error)?.message ?? e);
    if (/authori[sz]ation/i.test(text)) throw new NotEnrolled(kp.getPublicKey());
    throw wireError("UNAVAILABLE", `cannot reach the server at ${wsUrl}: ${text}`);
  }
}

/** Connects as this phone with its permissions, enrolling the key first if this phone has not. */
export async function connectPhone(wsUrl: string): Promise<Bus> {
  const kp = await busKey();
  const publicKey = kp.getPublicKey();
  const device = deviceIdOfNkey(publicKey);
  if (await isEnrolled(device)) {
    return { nc: await open(wsUrl, kp, device), device, publicKey };
  }
  const nc = await open(wsUrl, kp, device);
  try {
    const reply = await call<EnrolReply>(nc, enrolSubject(device), { nkey: publicKey, proof: enrolProof(kp) }, ENROL_TIMEOUT_MS);
    if (reply.device_id !== device) {
      throw wireError("INTERNAL", `enrolled as ${reply.device_id}, but this phone's key makes ${device}`);
    }
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
