// MessagePack on the wire and NATS request/reply the way the Rust client does it
// (schemas/src/codec.rs, client/src/call.rs, client/src/reply.rs): payloads are maps with
// field names, UUIDs are bin 16, errors travel in the NATS micro headers with an empty body.
import { encode as mpEncode, decode as mpDecode } from "@msgpack/msgpack";
import { headers, NoRespondersError, RequestError, TimeoutError, type Msg, type NatsConnection } from "@nats-io/nats-core";

/** schemas::MAX_PAYLOAD_BYTES */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

export function encode(value: unknown): Uint8Array {
  return mpEncode(value);
}

export function decode<T>(bytes: Uint8Array): T {
  if (bytes.length > MAX_PAYLOAD_BYTES) {
    throw new WireError("BAD_REQUEST", 400, `payload of ${bytes.length} bytes is over the limit`);
  }
  if (bytes.length === 0) throw new WireError("BAD_REQUEST", 400, "payload is empty");
  return mpDecode(bytes) as T;
}

/** A posfee error: a stable symbolic code, its HTTP-like status, and a message. */
export class WireError extends Error {
  constructor(
    public code: string,
    public status: number,
    message: string,
  ) {
    super(message);
  }
  toString(): string {
    return `${this.code}: ${this.message}`;
  }
}

/** The statuses of the codes the phone raises itself (asyncapi.yaml ErrorCode.x-status). */
export const STATUS: Record<string, number> = {
  BAD_REQUEST: 400,
  INVALID_FIELD: 400,
  BAD_SIGNATURE: 401,
  FORBIDDEN: 403,
  PAYER_DECLINED: 403,
  DEVICE_REVOKED: 403,
  PAYER_NOT_FOUND: 404,
  PAIRING_CONFLICT: 409,
  IDEMPOTENCY_CONFLICT: 409,
  PAIRING_GONE: 410,
  BILL_EXPIRED: 410,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  OUTCOME_UNKNOWN: 504,
};

export function wireError(code: string, message: string): WireError {
  return new WireError(code, STATUS[code] ?? 500, message);
}

/** `INVALID_FIELD "<field>: <reason>"`, as `WireError::field`. */
export function fieldError(field: string, reason: string): WireError {
  return wireError("INVALID_FIELD", `${field}: ${reason}`);
}

export const ERROR_CODE_HEADER = "Nats-Service-Error-Code";
export const ERROR_HEADER = "Nats-Service-Error";

/** The micro-service error a reply carries in its headers, if any (`error_from_headers`). */
export function errorFromHeaders(msg: Msg): WireError | undefined {
  const h = msg.headers;
  if (!h) return undefined;
  const text = h.get(ERROR_HEADER);
  if (!text) return undefined;
  const status = Number.parseInt(h.get(ERROR_CODE_HEADER), 10) || 500;
  const i = text.indexOf(": ");
  const code = i > 0 ? text.slice(0, i) : "INTERNAL";
  const message = i > 0 ? text.slice(i + 2) : text;
  return new WireError(code, status, message);
}

/** Why a call produced no answer: nobody listens (503), or nobody answered in time. */
export class NoResponders extends Error {}
export class TimedOut extends Error {}

/** Sends `req` and decodes the answer, or throws the error the other side answered with. */
/**
 * A shared request subject as this connection must ask it: the base subject, then who asks
 * (its inbox prefix without `_INBOX.`, e.g. `device.phabcd2345`). The server lets only that
 * identity publish there, and the service answers only into that identity's inbox.
 */
export function asked(nc: NatsConnection, base: string): string {
  const prefix = (nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix ?? "";
  if (!prefix.startsWith("_INBOX.")) throw wireError("INTERNAL", `the connection has no posfee inbox prefix (${prefix})`);
  return `${base}.${prefix.slice("_INBOX.".length)}`;
}

export async function call<T>(
  nc: NatsConnection,
  subject: string,
  req: unknown,
  timeoutMs: number,
  reply?: string,
): Promise<T> {
  const msg = await rawRequest(nc, subject, encode(req), timeoutMs, reply);
  const err = errorFromHeaders(msg);
  if (err) throw err;
  return decode<T>(msg.data);
}

/**
 * `reply`, when given, is where the answer comes instead of the connection's inbox: a kiosk
 * answers a phone only on one of the phone's own wallet subjects (`peer::ask`, contract §8).
 */
export async function rawRequest(
  nc: NatsConnection,
  subject: string,
  payload: Uint8Array,
  timeoutMs: number,
  reply?: string,
): Promise<Msg> {
  try {
    const opts = reply ? { timeout: timeoutMs, noMux: true, reply } : { timeout: timeoutMs };
    return await nc.request(subject, payload, opts);
  } catch (e) {
    if (e instanceof NoRespondersError || (e instanceof RequestError && e.isNoResponders())) {
      throw new NoResponders(subject);
    }
    if (e instanceof TimeoutError || (e instanceof RequestError && e.cause instanceof TimeoutError)) {
      throw new TimedOut(subject);
    }
    throw wireError("UNAVAILABLE", `request to ${subject} failed: ${String((e as Error)?.message ?? e)}`);
  }
}

/** Maps a failed call to the error the phone shows (`ending::from_call`). */
export function fromCall(e: unknown): WireError {
  if (e instanceof WireError) return e;
  if (e instanceof NoResponders) return wireError("UNAVAILABLE", `nobody is serving ${e.message}`);
  if (e instanceof TimedOut) return wireError("UNAVAILABLE", `no answer from ${e.message} in time`);
  return wireError("INTERNAL", String((e as Error)?.message ?? e));
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

export function replyOk(nc: NatsConnection, req: Msg, payload: Uint8Array): void {
  if (req.reply) nc.publish(req.reply, payload);
}

export function replyErr(nc: NatsConnection, req: Msg, err: WireError): void {
  if (!req.reply) return;
  const h = headers();
  h.set(ERROR_CODE_HEADER, String(err.status));
  h.set(ERROR_HEADER, `${err.code}: ${err.message}`);
  nc.publish(req.reply, new Uint8Array(0), { headers: h });
}

// ---- bytes, hex, UUIDs --------------------------------------------------------------------

export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export function unhex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || /[^0-9a-fA-F]/.test(s)) throw new Error("not hex");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return b;
}

/** A UUID as the 16 raw bytes the wire carries. */
export type Uuid = Uint8Array;

export function uuidText(u: Uuid): string {
  const h = hex(u);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function uuidParse(s: string): Uuid {
  const h = s.trim().toLowerCase().replace(/-/g, "");
  if (h.length !== 32) throw new Error("not a UUID");
  return unhex(h);
}

/** A fresh version-4 UUID from the CSPRNG (`PaymentId::new_random`). */
export function uuidV4(): Uuid {
  const b = randomBytes(16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return b;
}

export function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export const utf8 = new TextEncoder();

/**
 * An RFC 3339 instant (contract §3: any offset, `t`/`z` or a space, any number of fraction
 * digits) as milliseconds, or NaN. Browsers differ on more than three fraction digits, so the
 * text is normalized first.
 */
export function parseInstant(s: string): number {
  const m = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:?\d{2})$/.exec(s.trim());
  if (!m) return Number.NaN;
  const ms = (m[3] ?? "").slice(0, 3).padEnd(3, "0");
  let off = m[4].toUpperCase();
  if (off !== "Z" && !off.includes(":")) off = `${off.slice(0, 3)}:${off.slice(3)}`;
  return Date.parse(`${m[1]}T${m[2]}.${ms}${off}`);
}
