// MessagePack on the wire and NATS request/reply the way the Rust client does it
// (schemas/src/codec.rs, client/src/call.rs, client/src/reply.rs): payloads are maps with
// field names, UUIDs are bin 16, errors travel in the NATS micro headers with an empty body.
import { encode as mpEncode, decode as mpDecode } from "@msgpack/msgpack";
import { sha1 } from "@noble/hashes/legacy";
import { headers, NoRespondersError, RequestError, TimeoutError, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";

/** schemas::MAX_PAYLOAD_BYTES */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

export function encode(value: unknown): Uint8Array {
  return mpEncode(value);
}

/**
 * Decodes a payload and checks it is what `check` expects, so a wrong message is a
 * BAD_REQUEST naming the field instead of a wrong screen later. The value is returned as
 * decoded, fields the phone does not know included (`codec::decode`).
 */
export function decode<T>(bytes: Uint8Array, check: Check<T>): T {
  if (bytes.length > MAX_PAYLOAD_BYTES) {
    throw new WireError("BAD_REQUEST", 400, `payload of ${bytes.length} bytes is over the limit`);
  }
  if (bytes.length === 0) throw new WireError("BAD_REQUEST", 400, "payload is empty");
  let value: unknown;
  try {
    value = mpDecode(bytes);
  } catch (e) {
    throw new WireError("BAD_REQUEST", 400, `malformed payload: ${String((e as Error)?.message ?? e)}`);
  }
  return check(value, "");
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

/**
 * The micro-service error a reply carries in its headers, if any (`error_from_headers`,
 * `WireError::from_header`). A status that is not an error status reads as 500, so a header
 * the phone cannot read never makes it forget a registration or a payment (it does that on a
 * status below 500 only). A code that is not a symbolic code (`UPPER_SNAKE`) is no code: the
 * nearest code by status stands in, as the Rust side does for a code it does not know, and the
 * whole text is the message.
 */
export function errorFromHeaders(msg: Msg): WireError | undefined {
  const h = msg.headers;
  if (!h) return undefined;
  const text = h.get(ERROR_HEADER);
  if (!text) return undefined;
  const raw = h.get(ERROR_CODE_HEADER);
  const status = /^[45][0-9][0-9]$/.test(raw) ? Number(raw) : 500;
  const i = text.indexOf(": ");
  const name = i > 0 ? text.slice(0, i) : "";
  if (!/^[A-Z][A-Z0-9_]*$/.test(name)) return new WireError(codeOfStatus(status), status, text);
  return new WireError(name, status, text.slice(i + 2));
}

/** The code `WireError::from_header` reads for a status when the header names none it knows. */
function codeOfStatus(status: number): string {
  const codes: Record<number, string> = {
    400: "BAD_REQUEST",
    401: "BAD_SIGNATURE",
    403: "FORBIDDEN",
    404: "BILL_NOT_FOUND",
    409: "PAYMENT_STATE_CONFLICT",
    410: "PAIRING_GONE",
    413: "PAYLOAD_TOO_LARGE",
    422: "RULE_VIOLATION",
    503: "UNAVAILABLE",
    504: "OUTCOME_UNKNOWN",
  };
  return codes[status] ?? "INTERNAL";
}

/** Why a call produced no answer: nobody listens (503), or nobody answered in time. */
export class NoResponders extends Error {}
export class TimedOut extends Error {}

/**
 * A reply that did not decode as what was asked for (`CallError::Decode`): the answering
 * side's fault, so a 500 (`ending::from_call`), and never a reason to forget what was sent.
 */
export class Undecodable extends WireError {
  constructor(subject: string, reason: string) {
    super("INTERNAL", 500, `undecodable reply from ${subject}: ${reason}`);
  }
}

/** Sends `req` and decodes the answer as `check` expects, or throws the error the other side answered with. */
export async function call<T>(
  nc: NatsConnection,
  subject: string,
  req: unknown,
  check: Check<T>,
  timeoutMs: number,
  reply?: string,
): Promise<T> {
  return answerOf(await rawRequest(nc, subject, encode(req), timeoutMs, reply), subject, check);
}

/** How long a payment-path request waits for its answer before `callResending` sends a copy
 * (then twice as long before each next one): `RESEND_AFTER_MS` of the Rust client. */
export const RESEND_AFTER_MS = 750;

/**
 * `call` for the payment path (`call_resending` of the Rust client): a request not answered
 * within `RESEND_AFTER_MS` is sent again (then after twice as long each time), the copies
 * racing for the one answer until the timeout. The instance that took the request may have
 * died with its server node while this phone's connection stayed up; another instance answers
 * the copy. Only for requests safe to serve twice (a payment id).
 */
export async function callResending<T>(
  nc: NatsConnection,
  subject: string,
  req: unknown,
  check: Check<T>,
  timeoutMs: number,
): Promise<T> {
  const payload = encode(req);
  const deadline = Date.now() + timeoutMs;
  const msg = await new Promise<Msg>((resolve, reject) => {
    let pending = 0;
    let done = false;
    let wait = RESEND_AFTER_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const end = (settle: () => void) => {
      done = true;
      clearTimeout(timer);
      settle();
    };
    const send = (): void => {
      pending++;
      rawRequest(nc, subject, payload, Math.max(1, deadline - Date.now())).then(
        (m) => done || end(() => resolve(m)),
        (e) => {
          pending--;
          // One copy ran out of time; another may still be answered.
          if (done || (e instanceof TimedOut && pending > 0)) return;
          end(() => reject(e));
        },
      );
      if (Date.now() + wait < deadline) {
        timer = setTimeout(send, wait);
        wait *= 2;
      }
    };
    send();
  });
  return answerOf(msg, subject, check);
}

/** The service's answer, or the error it answered with. */
function answerOf<T>(msg: Msg, subject: string, check: Check<T>): T {
  const err = errorFromHeaders(msg);
  if (err) throw err;
  try {
    return decode(msg.data, check);
  } catch (e) {
    throw new Undecodable(subject, (e as Error).message);
  }
}

// ---- one payment, one trace (contract §"Trace context") -----------------------------------

/** The W3C header that carries the kiosk's trace; the phone takes it up and sends it on. */
export const TRACE_HEADER = "traceparent";
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The trace this phone's payment is in: the kiosk's, from its offer or its answer to a join. */
let trace: { id: string; flags: string } | undefined;

/** The trace id a `traceparent` value names, if it is a valid one (ids not all zero). */
export function traceOf(value: string | undefined | null): { id: string; flags: string } | undefined {
  const m = TRACEPARENT.exec((value ?? "").trim());
  if (!m || /^0+$/.test(m[1]) || /^0+$/.test(m[2])) return undefined;
  return { id: m[1], flags: m[3] };
}

/** Takes up the trace a kiosk's message carries, for what this phone sends next. */
export function adoptTrace(msg: Msg): void {
  const found = traceOf(msg.headers?.get(TRACE_HEADER));
  if (found) trace = found;
}

/** The current trace id, if the phone is in one. */
export function currentTrace(): string | undefined {
  return trace?.id;
}

/** Headers for a message sent now: the current trace from a new span id. */
function traceHeaders(): MsgHdrs {
  const h = headers();
  if (trace) {
    const span = hex(crypto.getRandomValues(new Uint8Array(8)));
    h.set(TRACE_HEADER, `00-${trace.id}-${/^0+$/.test(span) ? "0000000000000001" : span}-${trace.flags}`);
  }
  return h;
}

/**
 * `reply`, when given, is where the answer comes instead of the connection's inbox: a kiosk
 * answers a phone only on one of the phone's own wallet subjects (`peer::ask`, contract §8).
 * The request carries the current trace; an answer carrying one (a kiosk's) is taken up.
 */
export async function rawRequest(
  nc: NatsConnection,
  subject: string,
  payload: Uint8Array,
  timeoutMs: number,
  reply?: string,
): Promise<Msg> {
  try {
    const h = traceHeaders();
    const opts = reply ? { timeout: timeoutMs, noMux: true, reply, headers: h } : { timeout: timeoutMs, headers: h };
    const answer = await nc.request(subject, payload, opts);
    adoptTrace(answer);
    return answer;
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

export function replyOk(nc: NatsConnection, req: Msg, payload: Uint8Array): void {
  if (req.reply) nc.publish(req.reply, payload, { headers: traceHeaders() });
}

export function replyErr(nc: NatsConnection, req: Msg, err: WireError): void {
  if (!req.reply) return;
  const h = traceHeaders();
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

/**
 * The payment of one bill of a basket paid by `basket` (`PaymentId::part`, contract section 13):
 * a version-5 UUID, the basket's payment id as namespace, the bill id's 16 bytes as name.
 */
export function partPaymentId(basket: Uuid, bill: Uuid): Uuid {
  const input = new Uint8Array(32);
  input.set(basket, 0);
  input.set(bill, 16);
  const b = sha1(input).slice(0, 16);
  b[6] = (b[6] & 0x0f) | 0x50;
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

// ---- checking what was decoded --------------------------------------------------------------

/**
 * Reads a decoded value as a `T`, or throws a BAD_REQUEST naming where it is wrong (`at`, e.g.
 * `bill.signed.key_id`; empty for the message itself) and what was expected. What it returns
 * is the value itself, unchanged: sending it on writes the same bytes.
 */
export type Check<T> = (value: unknown, at: string) => T;

/** A check for every field of `T`: the compiler refuses a field left out or one let through looser than `T` says. */
export type Fields<T> = { [K in keyof T]-?: Check<T[K]> };

function refuse(at: string, expected: string, value: unknown): never {
  const what = value === undefined ? `missing, expected ${expected}` : `expected ${expected}, found ${kindOf(value)}`;
  throw new WireError("BAD_REQUEST", 400, `${at || "the message"}: ${what}`);
}

function kindOf(value: unknown): string {
  if (value === null) return "nil";
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (Array.isArray(value)) return "a list";
  if (typeof value === "number") return Number.isSafeInteger(value) ? `the integer ${value}` : `the number ${value}`;
  if (typeof value === "object") return isMap(value) ? "a map" : "an extension value";
  return `a ${typeof value}`;
}

/** A map as MessagePack decodes one (a plain object), not a list, bytes or an extension value. */
function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

function is<T>(expected: string, test: (value: unknown) => value is T): Check<T> {
  return (value, at) => (test(value) ? value : refuse(at, expected, value));
}

export const str = is("a string", (v): v is string => typeof v === "string");
/** Integers only, and only those a number holds exactly: a larger amount would be shown wrong. */
export const int = is("an integer", (v): v is number => Number.isSafeInteger(v));
export const bytes = is("bytes", (v): v is Uint8Array => v instanceof Uint8Array);
export const uuid = is("a UUID (16 bytes)", (v): v is Uuid => v instanceof Uint8Array && v.length === 16);
/** What a kiosk acknowledges a payer's update with. */
export const nil = is("nil", (v): v is null => v === null);

/** One of a few strings (a Rust enum in snake_case). */
export function oneOf<const T extends string>(...values: T[]): Check<T> {
  const expected = values.map((v) => JSON.stringify(v)).join(" or ");
  return is(expected, (v): v is T => (values as unknown[]).includes(v));
}

/** An optional field: absent and nil both mean not given, as the contract promises for every optional field. */
export function optional<T>(check: Check<T>): Check<T | null | undefined> {
  return (value, at) => (value === undefined || value === null ? value : check(value, at));
}

/** A list whose every item passes `check`; a wrong item is named by its place (`lines[2].amount`). */
export function list<T>(check: Check<T>): Check<T[]> {
  return (value, at) => {
    if (!Array.isArray(value)) return refuse(at, "a list", value);
    value.forEach((item, i) => check(item, `${at}[${i}]`));
    return value as T[];
  };
}

/** A map with `fields`; fields the phone does not know are let through, for a newer sender. */
export function shape<T>(fields: Fields<T>): Check<T> {
  return (value, at) => {
    if (!isMap(value)) return refuse(at, "a map", value);
    for (const key of Object.keys(fields) as (keyof T & string)[]) {
      fields[key](Object.hasOwn(value, key) ? value[key] : undefined, at ? `${at}.${key}` : key);
    }
    return value as T;
  };
}
