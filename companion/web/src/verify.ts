// Signatures and the key directory, as schemas/src/signed.rs, client/src/keydir.rs and
// companion/src/verify.rs do them (docs/contract.md §5, §6, §8 "What the phone must do").
import nacl from "tweetnacl";
import type { NatsConnection } from "@nats-io/nats-core";
import { asked, call, decode, encode, parseInstant, sameBytes, utf8, wireError, WireError, type Uuid, uuidText } from "./wire.ts";
import type { Bill, BillOffer, IssuedBill, PublicKeyRecord, Signed } from "./types.ts";

export type Purpose = "bill" | "device-pay" | "device-register" | "settlement";

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
    publicKey.length === 32 &&
    signature.length === 64 &&
    nacl.sign.detached.verify(signedMessage(purpose, body), signature, publicKey)
  );
}

/** Where a phone looks a key up in the key directory (a phone has no JetStream rights). */
export const KEYS_GET = "posfee.keys.get";

/** A verifier's view of one purpose's keys, filled from the directory on demand (`KeyDirectory`). */
export class KeyDirectory {
  private ring = new Map<string, { key: Uint8Array; owner: string }>();
  constructor(
    private nc: NatsConnection,
    private purpose: Purpose,
  ) {}

  /** Verifies `signed`, decodes its body, and checks the key belongs to `owner(body)`. */
  async verifyOwned<T>(signed: Signed, owner: (body: T) => string): Promise<T> {
    if (!this.ring.has(signed.key_id)) await this.fetch(signed.key_id);
    const entry = this.ring.get(signed.key_id);
    if (!entry) throw new SignError(`signed by unknown key ${signed.key_id}`);
    if (!verifyWith(entry.key, this.purpose, signed.body, signed.signature)) {
      throw new SignError("signature does not verify");
    }
    let body: T;
    try {
      body = decode<T>(signed.body);
    } catch (e) {
      throw new SignError(`signed body: ${(e as Error).message}`);
    }
    const claimed = owner(body);
    if (entry.owner !== claimed) {
      throw new SignError(`signed with key ${signed.key_id} of ${entry.owner}, not of ${claimed}`);
    }
    return body;
  }

  async verifyBill(signed: Signed): Promise<Bill> {
    return this.verifyOwned<Bill>(signed, (b) => b.tenant);
  }

  private async fetch(keyId: string): Promise<void> {
    let record: PublicKeyRecord;
    try {
      record = await call<PublicKeyRecord>(this.nc, asked(this.nc, KEYS_GET), { purpose: this.purpose, key_id: keyId }, 5000);
    } catch (e) {
      // The directory answers an unknown key with BAD_SIGNATURE: nothing signed with it is trusted.
      if (e instanceof WireError && e.code === "BAD_SIGNATURE") {
        throw new SignError(`signed by unknown key ${keyId}`);
      }
      throw new DirectoryError(String((e as Error).message ?? e));
    }
    if (!(record.public_key instanceof Uint8Array) || record.public_key.length !== 32) {
      throw new DirectoryError(`key ${keyId} is not 32 bytes`);
    }
    if (record.purpose !== this.purpose || record.key_id !== keyId) {
      throw new DirectoryError(`directory entry for ${keyId} is mislabelled`);
    }
    this.ring.set(keyId, { key: record.public_key, owner: record.owner });
  }
}

export class SignError extends Error {}
export class DirectoryError extends Error {}

/** A bill whose signature verified; what the payer sees comes from `bill` only. */
export interface VerifiedBill {
  bill: Bill;
  issued: IssuedBill;
  pairingExpiresAt: string;
}

/** `companion::verify::offer`. */
export async function verifyOffer(
  keys: KeyDirectory,
  offer: BillOffer,
  pairedWith: string,
  now: Date = new Date(),
): Promise<VerifiedBill> {
  let bill: Bill;
  try {
    bill = await keys.verifyBill(offer.bill.signed);
  } catch (e) {
    if (e instanceof SignError) {
      throw wireError("BAD_SIGNATURE", `the bill is not signed by its payee: ${e.message}`);
    }
    throw wireError("UNAVAILABLE", `reading the key directory: ${(e as Error).message}`);
  }
  if (!sameBytes(bill.bill_id, offer.bill.bill_id)) {
    throw wireError(
      "FORBIDDEN",
      `the offer names bill ${uuidText(offer.bill.bill_id)} but carries bill ${uuidText(bill.bill_id)}`,
    );
  }
  if (bill.terminal !== pairedWith || offer.terminal !== pairedWith) {
    throw wireError("FORBIDDEN", `the bill is for terminal ${bill.terminal}, but this phone paired with ${pairedWith}`);
  }
  // An expiry the phone cannot read counts as expired: fail closed.
  const expires = parseInstant(bill.expires_at);
  if (!(expires > now.getTime())) {
    throw wireError("BILL_EXPIRED", `bill ${uuidText(bill.bill_id)} expired at ${bill.expires_at}`);
  }
  return { bill, issued: offer.bill, pairingExpiresAt: offer.pairing_expires_at };
}

export function isWireError(e: unknown): e is WireError {
  return e instanceof WireError;
}

export type { Uuid };
