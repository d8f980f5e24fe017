// Registration, once per phone (companion/src/register.rs, services/paygate/src/identity.rs,
// docs/contract.md §11). Paygate's field checks run here first, so a typo is shown before
// anything is sent. Everything is stored before the request leaves, so a retry after a lost
// answer sends the same key and idempotency key; what paygate refuses is forgotten at once,
// so a mistyped field never locks the phone.
import nacl from "tweetnacl";
import type { NatsConnection } from "@nats-io/nats-core";
import { forgetProfile, profile as storedProfile, saveProfile, type Profile } from "./store.ts";
import { asker, paygate } from "./subjects.ts";
import { AmendReply, RegisterReply, type AmendRequest, type RegisterRequest } from "./types.ts";
import { call, fieldError, fromCall, hex, randomBytes, TimedOut, utf8, wireError, WireError } from "./wire.ts";
import { signedMessage } from "./verify.ts";

export const REGISTER_TIMEOUT_MS = 5_000;
export const REGISTER_ATTEMPTS = 3;
export const MAX_NAME_CHARS = 64;

export interface Identity {
  name: string;
  national_id: string;
  bank_account: string;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** paygate's `check_name`. */
export function checkName(name: string): WireError | undefined {
  const n = name.trim();
  if (!n || [...n].length > MAX_NAME_CHARS || CONTROL.test(n)) {
    return fieldError("name", `must be 1 to ${MAX_NAME_CHARS} printable characters`);
  }
  return undefined;
}

/** paygate's `check_national_id` (GB 11643-1999). */
export function checkNationalId(id: string): WireError | undefined {
  const s = id.trim();
  if (s.length !== 18 || !/^[0-9]{17}/.test(s)) {
    return fieldError("national_id", "must be 17 digits and a check character");
  }
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (s.charCodeAt(i) - 48) * weights[i];
  if (s[17].toUpperCase() !== "10X98765432"[sum % 11]) {
    return fieldError("national_id", "check character does not match");
  }
  return undefined;
}

/** paygate's `check_bank_account`: 12 to 19 digits passing the Luhn check. */
export function checkBankAccount(acct: string): WireError | undefined {
  const s = acct.trim();
  if (!/^[0-9]{12,19}$/.test(s)) return fieldError("bank_account", "must be 12 to 19 digits");
  let sum = 0;
  for (let i = 0; i < s.length; i++) {
    let d = s.charCodeAt(s.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  if (sum % 10 !== 0) return fieldError("bank_account", "fails the Luhn check");
  return undefined;
}

export function checkIdentity(id: Identity): WireError[] {
  return [checkName(id.name), checkNationalId(id.national_id), checkBankAccount(id.bank_account)].filter(
    (e): e is WireError => e !== undefined,
  );
}

function sameAs(id: Identity, p: Profile): boolean {
  return id.name.trim() === p.name && id.national_id.trim() === p.national_id && id.bank_account.trim() === p.bank_account;
}

function alreadyRegistered(): WireError {
  return wireError("IDEMPOTENCY_CONFLICT", "this phone is already registered to another payer");
}

/** The device key pair (tweetnacl: 64-byte secret key) from the stored seed. */
export function deviceKey(p: Profile): nacl.SignKeyPair {
  return nacl.sign.keyPair.fromSeed(p.device_seed);
}

function fresh(id: Identity): Profile {
  const suffix = hex(randomBytes(8));
  return {
    name: id.name.trim(),
    national_id: id.national_id.trim(),
    bank_account: id.bank_account.trim(),
    device_key_id: `dev-${suffix}`,
    device_seed: randomBytes(32),
    idempotency_key: `register-${suffix}`,
    payer: null,
    balance: null,
  };
}

/** `RegisterRequest::signed`: the proof covers the key id and the idempotency key. */
export function registerRequest(p: Profile): RegisterRequest {
  const key = deviceKey(p);
  const proofBody = utf8.encode(`${p.device_key_id}\0${p.idempotency_key}`);
  return {
    name: p.name,
    national_id: p.national_id,
    bank_account: p.bank_account,
    device_public_key: key.publicKey,
    device_key_id: p.device_key_id,
    idempotency_key: p.idempotency_key,
    device_proof: nacl.sign.detached(signedMessage("device-register", proofBody), key.secretKey),
  };
}

/**
 * Registers this phone, or finishes an earlier registration that lost its answer. With
 * `checkFirst` false the fields go to paygate unchecked (a test hook: paygate's own refusal).
 */
export async function register(nc: NatsConnection, id: Identity, checkFirst = true): Promise<Profile> {
  if (checkFirst) {
    const errors = checkIdentity(id);
    if (errors.length) throw errors[0];
  }
  const p = await storedProfile();
  if (p && p.payer && sameAs(id, p)) return p;
  if (p && p.payer) throw alreadyRegistered();
  if (p && sameAs(id, p)) return send(nc, p);
  if (p) {
    // An earlier attempt with other details never got its answer: learn how it ended first,
    // so the phone is never registered twice.
    try {
      await send(nc, p);
    } catch (e) {
      if (e instanceof WireError && e.status < 500) return send(nc, fresh(id));
      throw e;
    }
    throw alreadyRegistered();
  }
  return send(nc, fresh(id));
}

async function send(nc: NatsConnection, p: Profile): Promise<Profile> {
  await saveProfile(p);
  const req = registerRequest(p);
  let reply: RegisterReply | undefined;
  for (let attempt = 1; !reply; attempt++) {
    try {
      reply = await call(nc, paygate("register", asker(nc)), req, RegisterReply, REGISTER_TIMEOUT_MS);
    } catch (e) {
      if (e instanceof TimedOut && attempt < REGISTER_ATTEMPTS) continue;
      if (e instanceof WireError && e.status < 500) {
        await forgetProfile();
        throw e;
      }
      throw fromCall(e);
    }
  }
  const done = { ...p, payer: reply.payer, balance: reply.balance };
  await saveProfile(done);
  return done;
}

export async function registered(): Promise<{ profile: Profile; payer: string }> {
  const p = await storedProfile();
  if (!p) throw wireError("PAYER_NOT_FOUND", "this phone is not registered; register first");
  if (!p.payer) throw wireError("PAYER_NOT_FOUND", "registration did not finish; register again");
  return { profile: p, payer: p.payer };
}

/**
 * The correction of a registered payer's details (`posfee.paygate.amend`): the name and bank
 * card that differ from the stored ones, checked as a registration checks them. The national
 * id is who the payer is and has no field.
 */
export function amendRequest(p: Profile, change: { name: string; bank_account: string }): AmendRequest {
  const fields: { name?: string; bank_account?: string } = {};
  const name = change.name.trim();
  const bank = change.bank_account.trim();
  if (name !== p.name) fields.name = name;
  if (bank !== p.bank_account) fields.bank_account = bank;
  const error = (fields.name !== undefined && checkName(fields.name)) || (fields.bank_account !== undefined && checkBankAccount(fields.bank_account));
  if (error) throw error;
  // `AmendRequest::signed`: the key id, the name and the card, NUL-separated (absent: empty).
  const proofBody = utf8.encode(`${p.device_key_id}\0${fields.name ?? ""}\0${fields.bank_account ?? ""}`);
  return {
    ...fields,
    device_key_id: p.device_key_id,
    device_proof: nacl.sign.detached(signedMessage("device-amend", proofBody), deviceKey(p).secretKey),
  };
}

/**
 * Corrects this phone's payer at paygate and keeps the new details once paygate has them;
 * returns the fields that changed (none when the details were the same). Sending the same
 * values again changes nothing, so a lost answer is simply asked again.
 */
export async function amend(nc: NatsConnection, change: { name: string; bank_account: string }): Promise<string[]> {
  const { profile: p } = await registered();
  const req = amendRequest(p, change);
  if (req.name === undefined && req.bank_account === undefined) return [];
  let reply: AmendReply;
  try {
    reply = await call(nc, paygate("amend", asker(nc)), req, AmendReply, REGISTER_TIMEOUT_MS);
  } catch (e) {
    throw fromCall(e);
  }
  await saveProfile({
    ...p,
    name: req.name ?? p.name,
    bank_account: req.bank_account ?? p.bank_account,
  });
  return reply.changed;
}
