// Ids and pairing codes, ported from schemas/src/ids.rs and schemas/src/pairing.rs
// (docs/contract.md §2 and §7). The contract's worked examples are unit tests
// (test/unit.test.ts).
import { hex, unhex, uuidParse, uuidText, type Uuid, utf8 } from "./wire.ts";

export const MAX_ID_BYTES = 64;
const FINGERPRINT_SYMBOLS = 8;

/** `check_subject_token`: letters, digits, `-`, `_`, at most 64 bytes. */
export function checkId(kind: string, s: string): string {
  if (s.length === 0) throw new Error(`${kind} is empty`);
  if (utf8.encode(s).length > MAX_ID_BYTES) throw new Error(`${kind} is longer than ${MAX_ID_BYTES} bytes`);
  const bad = [...s].find((c) => !/^[A-Za-z0-9_-]$/.test(c));
  if (bad !== undefined) throw new Error(`${kind} may not contain ${JSON.stringify(bad)}`);
  return s;
}

/** `DeviceId::of_nkey`: `ph` + symbols 3 to 10 of the user nkey, lower-cased. */
export function deviceIdOfNkey(publicKey: string): string {
  if (publicKey.length !== 56 || !publicKey.startsWith("U")) {
    throw new Error("not a user nkey (56 symbols starting with U)");
  }
  const fp = publicKey.slice(2, 2 + FINGERPRINT_SYMBOLS);
  if (!/^[A-Z2-7]+$/.test(fp)) throw new Error("not a base32 nkey");
  return checkId("device id", `ph${fp.toLowerCase()}`);
}

export type PairMode = "terminal_presents" | "phone_presents";

export interface PairCode {
  mode: PairMode;
  /** The terminal id (mode A) or device id (mode B). */
  presenter: string;
  /** 32 lower-case hex digits. */
  token: string;
  /** Mode A links may name the bill. */
  billId?: Uuid;
}

export const URI_SCHEME = "posfee://";
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const TOKEN_SYMBOLS = 26;
const CHECK_SYMBOLS = 2;
const GROUP = 4;
const MAX_CODE_CHARS = 256;

/** CRC-16/CCITT-FALSE over the mode tag, the presenter and the token, cut to ten bits. */
export function checksum(mode: PairMode, presenter: string, token: bigint): number {
  let crc = 0xffff;
  const feed = (bytes: Uint8Array) => {
    for (const b of bytes) {
      crc ^= b << 8;
      for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  };
  feed(utf8.encode(mode === "terminal_presents" ? "posfee-pair\0" : "posfee-wallet\0"));
  feed(utf8.encode(presenter));
  feed(new Uint8Array([0]));
  feed(unhex(token.toString(16).padStart(32, "0")));
  return crc & 0x3ff;
}

/** The CRC itself, for the tests against the standard check value. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

export function typed(code: PairCode): string {
  const v = BigInt(`0x${code.token}`);
  const check = checksum(code.mode, code.presenter, v);
  let s = "";
  for (let i = TOKEN_SYMBOLS - 1; i >= 0; i--) s += CROCKFORD[Number((v >> BigInt(5 * i)) & 31n)];
  s += CROCKFORD[(check >> 5) & 31] + CROCKFORD[check & 31];
  const groups = s.match(new RegExp(`.{1,${GROUP}}`, "g")) ?? [];
  return `${code.presenter}:${groups.join("-")}`;
}

export function link(code: PairCode): string {
  if (code.mode === "phone_presents") return `${URI_SCHEME}wallet/${code.presenter}/${code.token}`;
  const bill = code.billId ? `?bill=${uuidText(code.billId)}` : "";
  return `${URI_SCHEME}pair/${code.presenter}/${code.token}${bill}`;
}

export class CodeError extends Error {}
/** The check symbols do not match: a symbol was mistyped. */
export class BadCheck extends CodeError {}
/** A wallet code where a kiosk code was wanted, or the other way round. */
export class WrongMode extends CodeError {}

function symbolValue(c: string): number | undefined {
  let u = c.toUpperCase();
  if (u === "O") u = "0";
  if (u === "I" || u === "L") u = "1";
  const i = CROCKFORD.indexOf(u);
  return i >= 0 && u.length === 1 ? i : undefined;
}

function parseTypedToken(s: string, mode: PairMode, presenter: string): string {
  const values: number[] = [];
  for (const c of s) {
    if (c === "-" || /\s/.test(c)) continue;
    const v = symbolValue(c);
    if (v === undefined) throw new CodeError(`${JSON.stringify(c)} is not a code symbol (digits and letters except U)`);
    values.push(v);
  }
  const want = TOKEN_SYMBOLS + CHECK_SYMBOLS;
  if (values.length !== want) throw new CodeError(`expected ${want} symbols, found ${values.length}`);
  if (values[0] > 7) throw new CodeError("the value is larger than 128 bits");
  let v = 0n;
  for (const x of values.slice(0, TOKEN_SYMBOLS)) v = (v << 5n) | BigInt(x);
  const check = (values[TOKEN_SYMBOLS] << 5) | values[TOKEN_SYMBOLS + 1];
  if (check !== checksum(mode, presenter, v)) throw new BadCheck("the check symbols do not match: a symbol was mistyped");
  return v.toString(16).padStart(32, "0");
}

function parseToken(h: string): string {
  if (h.length !== 32) throw new CodeError(`expected 32 hex digits, found ${h.length}`);
  const l = h.toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(l)) throw new CodeError("the token is not hex");
  return l;
}

function parseUri(rest: string): PairCode {
  const q = rest.indexOf("?");
  const path = q >= 0 ? rest.slice(0, q) : rest;
  const query = q >= 0 ? rest.slice(q + 1) : undefined;
  if (rest.includes("#")) throw new CodeError("a fragment (#) is not allowed");
  const parts = path.split("/");
  const wrap = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw e instanceof CodeError ? e : new CodeError((e as Error).message);
    }
  };
  if (parts.length === 3 && parts[0] === "pair") {
    const terminal = wrap(() => checkId("terminal id", parts[1]));
    const token = parseToken(parts[2]);
    let billId: Uuid | undefined;
    if (query !== undefined) {
      if (!query.startsWith("bill=")) throw new CodeError(`unknown link parameter ${JSON.stringify(query)} (only bill=<id>)`);
      const v = query.slice(5);
      if (v.includes("&")) throw new CodeError("only one link parameter (bill=<id>) is allowed");
      billId = wrap(() => uuidParse(v));
    }
    return { mode: "terminal_presents", presenter: terminal, token, billId };
  }
  if (parts.length === 3 && parts[0] === "wallet") {
    if (query !== undefined) throw new CodeError("a wallet link takes no parameters");
    const device = wrap(() => checkId("device id", parts[1]));
    return { mode: "phone_presents", presenter: device, token: parseToken(parts[2]) };
  }
  throw new CodeError(`expected ${URI_SCHEME}pair/<terminal>/<token> or ${URI_SCHEME}wallet/<device>/<token>`);
}

/** Reads a link or a typed code; `want` checks a typed code with that mode's tag only. */
export function parseCode(input: string, want?: PairMode): PairCode {
  const s = input.trim();
  if (!s) throw new CodeError("the code is empty");
  if ([...s].length > MAX_CODE_CHARS) throw new CodeError("the code is too long");
  if (s.slice(0, URI_SCHEME.length).toLowerCase() === URI_SCHEME) {
    const code = parseUri(s.slice(URI_SCHEME.length));
    if (want && code.mode !== want) throw new WrongMode(wrongMode(want));
    return code;
  }
  if (s.includes("://")) throw new CodeError(`the link must start with ${URI_SCHEME}`);
  const i = s.search(/[:/]/);
  if (i < 0) throw new CodeError("a typed code starts with the terminal or phone id and a colon");
  const id = s.slice(0, i).trim();
  const symbols = s.slice(i + 1);
  const as = (mode: PairMode): PairCode => {
    try {
      checkId(mode === "terminal_presents" ? "terminal id" : "device id", id);
    } catch (e) {
      throw new CodeError((e as Error).message);
    }
    return { mode, presenter: id, token: parseTypedToken(symbols, mode, id) };
  };
  if (want) {
    try {
      return as(want);
    } catch (e) {
      const other: PairMode = want === "terminal_presents" ? "phone_presents" : "terminal_presents";
      try {
        as(other);
      } catch {
        throw e;
      }
      throw new WrongMode(wrongMode(want));
    }
  }
  try {
    return as("terminal_presents");
  } catch (e) {
    if (!(e instanceof BadCheck)) throw e;
    try {
      return as("phone_presents");
    } catch {
      throw e;
    }
  }
}

function wrongMode(want: PairMode): string {
  return want === "terminal_presents"
    ? "this is a phone wallet code, not a kiosk pairing code"
    : "this is a kiosk pairing code, not a phone wallet code";
}

export function newToken(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return hex(b);
}
