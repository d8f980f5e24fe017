// The phone's bus identity: its own user nkey, made here and kept in IndexedDB, and the one
// place that knows how a phone gets its permissions. Two ways are supported:
//
// - self-enrolment (auth callout): a key not enrolled yet may only publish
//   `posfee.identity.enrol.<device>` and hear `_INBOX.device.<device>.>`. The phone asks to be
//   enrolled with `{nkey, proof}` (proof = the key's signature over "posfee.enrol.v1:" + nkey),
//   gets `{device_id, enrolled_at}`, closes that connection and connects again with the same
//   key, now with the phone's full permissions;
// - the operator enrols the key (`posfee keys enrol U…`): connecting already gives the full
//   permissions, so enrolment is skipped.
//
// Which one applies is found by asking once for something only an enrolled phone may ask.
import { createUser, fromSeed, type KeyPair } from "@nats-io/nkeys";
import { nkeyAuthenticator, wsconnect, type NatsConnection } from "@nats-io/nats-core";
import { deviceIdOfNkey } from "./ids.ts";
import { busSeed, saveBusSeed } from "./store.ts";
import { call, rawRequest, utf8, wireError, WireError } from "./wire.ts";

export const ENROL_TIMEOUT_MS = 5_000;
/** How long the phone waits to learn whether it already has its full permissions. */
export const PROBE_TIMEOUT_MS = 2_000;

/** The server refused the key: it is not enrolled, and self-enrolment is not offered. */
export class NotEnrolled extends WireError {
  constructor(public publicKey: string) {
    super("FORBIDDEN", 403, `the server does not know this phone's key yet (the operator enrols it: posfee keys enrol ${publicKey})`);
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

/** Whether this connection already has the phone's full permissions. */
async function hasFullPermissions(nc: NatsConnection): Promise<boolean> {
  try {
    await rawRequest(nc, "$JS.API.INFO", new Uint8Array(0), PROBE_TIMEOUT_MS);
    return true;
  } catch {
    return false;
  }
}

/** Connects as this phone with its full permissions, enrolling the key first if need be. */
export async function connectPhone(wsUrl: string): Promise<Bus> {
  const kp = await busKey();
  const publicKey = kp.getPublicKey();
  const device = deviceIdOfNkey(publicKey);
  let nc = await open(wsUrl, kp, device);
  if (await hasFullPermissions(nc)) return { nc, device, publicKey };
  try {
    const reply = await call<EnrolReply>(nc, enrolSubject(device), { nkey: publicKey, proof: enrolProof(kp) }, ENROL_TIMEOUT_MS);
    if (reply.device_id !== device) {
      throw wireError("INTERNAL", `enrolled as ${reply.device_id}, but this phone's key makes ${device}`);
    }
  } catch (e) {
    await nc.close().catch(() => {});
    if (e instanceof WireError) throw e;
    throw wireError("UNAVAILABLE", `enrolling this phone: ${(e as Error).message}`);
  }
  await nc.close().catch(() => {});
  nc = await open(wsUrl, kp, device);
  return { nc, device, publicKey };
}

/** The public half and device id, without connecting (the device screen shows them). */
export async function identity(): Promise<{ publicKey: string; device: string }> {
  const kp = await busKey();
  return { publicKey: kp.getPublicKey(), device: deviceIdOfNkey(kp.getPublicKey()) };
}
