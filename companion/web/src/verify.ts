// Signatures and the key directory, as schemas/src/signed.rs, client/src/keydir.rs and
// companion/src/verify.rs do them (docs/contract.md §5, §6, §8 "What the phone must do").
import nacl from "tweetnacl";
import type { NatsConnection } from "@nats-io/nats-core";
import { call, decode, encode, parseInstant, sameBytes, Undecodable, utf8, wireError, WireError, type Check, type Uuid, uuidText } from "./wire.ts";
import { fromPublic } from "@nats-io/nkeys";
import { asker, keysGet } from "./subjects.ts";
import { Authority, Bill, DirectoryEntry, PublicKeyRecord, Receipt, Signed, type BillOffer, type IssuedBill, type PairingShown } from "./types.ts";

export type Purpose =
  | "bill"
  | "device-pay"
  | "device-register"
  | "device-amend"
  | "settlement"
  | "receipt"
  | "authority"
  | "key-record"
  | "seal";

/** `"posfee/v1/" + purpose + "\0"`. */
export function tag(purpose: Purpose): Uint8Array {
  return utf8.encode(`posfee/v1/${purpose}\0`);
}

export function signedMessage(purpose: Purpose, body: Uint8Array): Uint8Array {
  const t = tag(purpose);
  const m = new Uint8Array(t.length + body.length);
  m.set(t);
  m.set(body, t.length);
  return m;
}

/** `Signed::sign`: the MessagePack body, signed with tag + body. `secretKey` is tweetnacl's 64 bytes. */
export function sign(purpose: Purpose, value: unknown, keyId: string, secretKey: Uint8Array): Signed {
  const body = encode(value);
  return { body, key_id: keyId, signature: nacl.sign.detached(signedMessage(purpose, body), secretKey) };
}

export function verifyWith(publicKey: Uint8Array, purpose: Purpose, body: Uint8Array, signature: Uint8Array): boolean {
  return (
    publicKey instanceof Uint8Array &&
    publicKey.length === 32 &&
    signature instanceof Uint8Array &&
    signature.length === 64 &&
    nacl.sign.detached.verify(signedMessage(purpose, body), signature, publicKey)
  );
}

/**
 * The root every key is believed through (contract section 6): an operator public nkey
 * (`O…`) this phone pinned the first time it was given one.
 */
export class TrustRoot {
  private readonly key: ReturnType<typeof fromPublic>;
  constructor(readonly text: string) {
    if (!/^O[A-Z2-7]{55}$/.test(text)) throw new SignError(`${text} is not a root key (O…)`);
    try {
      this.key = fromPublic(text);
    } catch {
      throw new SignError(`${text} is not a root key (O…)`);
    }
  }

  /** An authority's certificate, if this root signed it (`TrustRoot::authority`). */
  authority(cert: Signed): Authority {
    if (cert.key_id !== this.text) throw new SignError(`certified by ${cert.key_id}, not the pinned root`);
    if (!(cert.signature instanceof Uint8Array) || !this.key.verify(signedMessage("authority", cert.body), cert.signature)) {
      throw new SignError("the certificate is not the root's");
    }
    return decodeSigned(cert.body, Authority);
  }

  /** The record in a directory entry, if an authority of this root may vouch for it (`TrustRoot::key_record`). */
  keyRecord(entry: DirectoryEntry, purpose: Purpose, keyId: string): PublicKeyRecord {
    const authority = this.authority(entry.authority);
    if (!authority.may.includes(purpose)) throw new SignError(`authority ${authority.name} may not certify ${purpose} keys`);
    const record = authorityVerifies(authority, "key-record", entry.record, PublicKeyRecord);
    if (record.purpose !== purpose || record.key_id !== keyId) throw new SignError(`the directory entry for ${keyId} records another key`);
    return record;
  }
}

/** What `authority` signed for `purpose`, which its certificate must allow (`Authority::verify`), read as `check` expects. */
export function authorityVerifies<T>(authority: Authority, purpose: Purpose, signed: Signed, check: Check<T>): T {
  if (signed.key_id !== authority.name) throw new SignError(`signed by ${signed.key_id}, not ${authority.name}`);
  if ((purpose === "receipt" || purpose === "seal") && !authority.may.includes(purpose)) {
    throw new SignError(`authority ${authority.name} may not sign ${purpose}`);
  }
  if (!verifyWith(authority.public_key, purpose, signed.body, signed.signature)) {
    throw new SignError("signature does not verify");
  }
  return decodeSigned(signed.body, check);
}

function decodeSigned<T>(body: Uint8Array, check: Check<T>): T {
  try {
    return decode(body, check);
  } catch (e) {
    throw new SignError(`signed body: ${(e as Error).message}`);
  }
}

/**
 * A verifier's view of the key directory (`KeyDirectory`): every entry believed through the
 * pinned root, whoever wrote it into the bucket, and kept once verified.
 */
export class KeyDirectory {
  private keys = new Map<string, { key: Uint8Array; owner: string }>();
  private authorities = new Map<string, Authority>();
  constructor(
    private nc: NatsConnection,
    readonly root: TrustRoot,
  ) {}

  /** Verifies `signed` with a `purpose` key, decodes its body as `check` expects, and checks the key belongs to `owner(body)`. */
  async verifyOwned<T>(purpose: Purpose, signed: Signed, check: Check<T>, owner: (body: T) => string): Promise<T> {
    const entry = await this.key(purpose, signed.key_id);
    if (!verifyWith(entry.key, purpose, signed.body, signed.signature)) {
      throw new SignError("signature does not verify");
    }
    const body = decodeSigned(signed.body, check);
    const claimed = owner(body);
    if (entry.owner !== claimed) {
      throw new SignError(`signed with key ${signed.key_id} of ${entry.owner}, not of ${claimed}`);
    }
    return body;
  }

  async verifyBill(signed: Signed): Promise<Bill> {
    return this.verifyOwned("bill", signed, Bill, (b) => b.tenant);
  }

  /** A receipt, if the ledger's authority signed it (`KeyDirectory::verify_receipt`). */
  async verifyReceipt(signed: Signed): Promise<Receipt> {
    if (signed.key_id !== "ledger") throw new SignError(`a receipt signed by ${signed.key_id}, not the ledger`);
    return authorityVerifies(await this.authority("ledger"), "receipt", signed, Receipt);
  }

  async authority(name: string): Promise<Authority> {
    const known = this.authorities.get(name);
    if (known) return known;
    const authority = this.root.authority(await this.lookup("authority", name, Signed));
    if (authority.name !== name) throw new SignError(`the certificate of ${name} names ${authority.name}`);
    this.authorities.set(name, authority);
    return authority;
  }

  private async key(purpose: Purpose, keyId: string): Promise<{ key: Uint8Array; owner: string }> {
    const at = `${purpose}.${keyId}`;
    const known = this.keys.get(at);
    if (known) return known;
    const record = this.root.keyRecord(await this.lookup(purpose, keyId, DirectoryEntry), purpose, keyId);
    if (!(record.public_key instanceof Uint8Array) || record.public_key.length !== 32) {
      throw new DirectoryError(`key ${keyId} is not 32 bytes`);
    }
    const entry = { key: record.public_key, owner: record.owner };
    this.keys.set(at, entry);
    return entry;
  }

  private async lookup<T>(purpose: Purpose, keyId: string, check: Check<T>): Promise<T> {
    try {
      return await call(this.nc, keysGet(asker(this.nc)), { purpose, key_id: keyId }, check, 5000);
    } catch (e) {
      // The directory answers an unknown key with BAD_SIGNATURE: nothing signed with it is trusted.
      if (e instanceof WireError && (e.code === "BAD_SIGNATURE" || e.code === "BAD_REQUEST")) {
        throw new SignError(`signed by unknown key ${keyId}`);
      }
      // Nor is anything signed with a key whose entry does not read (`keydir`: a `Decode` is unknown).
      if (e instanceof Undecodable) throw new SignError(`the key directory's entry for ${keyId} does not read: ${e.message}`);
      throw new DirectoryError(String((e as Error).message ?? e));
    }
  }
}

export class SignError extends Error {}
export class DirectoryError extends Error {}

/** A bill whose signature verified; what the payer sees comes from `bill` only. */
export interface VerifiedBill {
  bill: Bill;
  issued: IssuedBill;
  pairingExpiresAt: string;
  /** A basket's other bills, each verified as `bill` is (contract section 13). */
  more: { bill: Bill; issued: IssuedBill }[];
  /** How the kiosk showed the pairing, handed on to paygate (contract section 12). */
  pairing: PairingShown | null;
}

/** Every bill offered, the first one first. */
export function billsOf(v: VerifiedBill): Bill[] {
  return [v.bill, ...v.more.map((m) => m.bill)];
}

/** What the payer is asked to pay: the bill's total, or the basket's. */
export function totalOf(v: VerifiedBill): number {
  return billsOf(v).reduce((sum, b) => sum + b.total.fen, 0);
}

/** `companion::verify::offer`. */
export async function verifyOffer(
  keys: KeyDirectory,
  offer: BillOffer,
  pairedWith: string,
  now: Date = new Date(),
): Promise<VerifiedBill> {
  if (offer.terminal !== pairedWith) {
    throw wireError("FORBIDDEN", `the offer comes from terminal ${offer.terminal}, not ${pairedWith}`);
  }
  const bill = await verifyOne(keys, offer.bill, pairedWith, now);
  const more = [];
  for (const issued of offer.more_bills ?? []) {
    more.push({ bill: await verifyOne(keys, issued, pairedWith, now), issued });
  }
  wholeBasket(bill, more.map((m) => m.bill));
  return { bill, issued: offer.bill, pairingExpiresAt: offer.pairing_expires_at, more, pairing: offer.pairing ?? null };
}

/** A basket is offered whole: every bill of the first bill's basket, once each, in one currency. */
function wholeBasket(first: Bill, more: Bill[]): void {
  const size = first.basket ? first.basket.size : 1;
  const ids = new Set([first, ...more].map((b) => uuidText(b.bill_id)));
  const same = more.every(
    (b) =>
      b.basket &&
      first.basket &&
      sameBytes(b.basket.id, first.basket.id) &&
      b.basket.size === size &&
      (b.total.currency ?? "CNY") === (first.total.currency ?? "CNY"),
  );
  if (!same || ids.size !== size || more.length + 1 !== size) {
    throw wireError("FORBIDDEN", `the kiosk offered ${more.length + 1} bills of a basket of ${size}; nothing was paid`);
  }
}

/** One offered bill: signed by its payee, for the terminal the phone paired with, not expired. */
async function verifyOne(keys: KeyDirectory, issued: IssuedBill, pairedWith: string, now: Date): Promise<Bill> {
  let bill: Bill;
  try {
    bill = await keys.verifyBill(issued.signed);
  } catch (e) {
    if (e instanceof SignError) {
      throw wireError("BAD_SIGNATURE", `the bill is not signed by its payee: ${e.message}`);
    }
    throw wireError("UNAVAILABLE", `reading the key directory: ${(e as Error).message}`);
  }
  if (!sameBytes(bill.bill_id, issued.bill_id)) {
    throw wireError(
      "FORBIDDEN",
      `the offer names bill ${uuidText(issued.bill_id)} but carries bill ${uuidText(bill.bill_id)}`,
    );
  }
  if (bill.terminal !== pairedWith) {
    throw wireError("FORBIDDEN", `the bill is for terminal ${bill.terminal}, but this phone paired with ${pairedWith}`);
  }
  // An expiry the phone cannot read counts as expired: fail closed.
  const expires = parseInstant(bill.expires_at);
  if (!(expires > now.getTime())) {
    throw wireError("BILL_EXPIRED", `bill ${uuidText(bill.bill_id)} expired at ${bill.expires_at}`);
  }
  return bill;
}

export function isWireError(e: unknown): e is WireError {
  return e instanceof WireError;
}

export type { Uuid };
