// The one place that writes the subjects the phone uses, as schemas/src/subjects.rs is for
// the Rust side (same names, in camelCase): a subject changed there is changed here, and no
// other module writes a subject string. Ids that go into a subject have been checked already
// (device ids and tokens are made by the phone, terminal ids come from a checked code).
import type { NatsConnection } from "@nats-io/nats-core";
import { wireError } from "./wire.ts";

export const PREFIX = "posfee";
/** The prefix of every key's status inbox. */
export const KEY_STATUS_INBOX = "_INBOX.key";

/** The paygate operations a phone asks for (`PaygateOp`). */
export type PaygateOp = "register" | "amend" | "pay";

/** A phone as subject tokens (`Identity::Device(..).path()`): shared request subjects end with it. */
export function devicePath(device: string): string {
  return `device.${device}`;
}

/** The reply inbox prefix a phone connects with and alone may subscribe below (`Identity::inbox_prefix`). */
export function deviceInboxPrefix(device: string): string {
  return `_INBOX.${devicePath(device)}`;
}

/**
 * Who a connection asks as (`Identity::path`): its inbox prefix without `_INBOX.`, e.g.
 * `device.phabcd2345`. The server lets only that identity publish on a shared request subject
 * ending with it, and the service answers only into that identity's inbox.
 */
export function asker(nc: NatsConnection): string {
  const prefix = (nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix ?? "";
  if (!prefix.startsWith("_INBOX.")) throw wireError("INTERNAL", `the connection has no posfee inbox prefix (${prefix})`);
  return prefix.slice("_INBOX.".length);
}

/** Where a phone's key asks to be enrolled: only a connection holding that key may publish here. */
export function identityEnrol(device: string): string {
  return `${PREFIX}.identity.enrol.${device}`;
}

/** Where a connection asks what the system takes its key for: only a connection made with that key may publish here. */
export function identityStatus(key: string): string {
  return `${PREFIX}.identity.status.${key}`;
}

/** The inbox a key's status is answered into, whatever identity the key is taken for. */
export function statusInbox(key: string): string {
  return `${KEY_STATUS_INBOX}.${key}`;
}

/** One fresh reply subject under the key's status inbox (`bus::key_status`). */
export function statusReply(key: string, token: string): string {
  return `${statusInbox(key)}.${token}`;
}

/** Where a phone looks up a public signing key in the key directory (a phone has no JetStream rights). */
export function keysGet(asker: string): string {
  return `${PREFIX}.keys.get.${asker}`;
}

/** A paygate operation, asked by `asker`. */
export function paygate(op: PaygateOp, asker: string): string {
  return `${PREFIX}.paygate.${op}.${asker}`;
}

/** One of a phone's wallet subjects: a code it shows, the channel a kiosk answers or notifies it on. */
export function wallet(device: string, token: string): string {
  return `${PREFIX}.wallet.${device}.${token}`;
}

/** One of a kiosk's pairing subjects: the code it shows, or where it hears the payer's updates. */
export function pair(terminal: string, token: string): string {
  return `${PREFIX}.pair.${terminal}.${token}`;
}

/**
 * `peer::kiosk_asking`: the kiosk a request may be answered to, when its reply is one of that
 * kiosk's pairing subjects (`posfee.pair.<terminal>.<token>`); null for anything else, which
 * a phone never answers.
 */
export function kioskAsking(reply: string | undefined): string | null {
  const m = /^posfee\.pair\.([^.*> \t\r\n]+)\.([0-9a-fA-F]{32})$/.exec(reply ?? "");
  return m ? m[1] : null;
}
