// The phone's own store (IndexedDB), as companion/src/home.rs keeps it: the bus key, the
// registration (identity, device key, idempotency key, payer handle), payments whose outcome
// is not known yet, and receipts. Nothing of it leaves the phone except towards paygate.
import { createStore, del, entries, get, set } from "idb-keyval";
import { hex } from "./wire.ts";
import type { Money, PayRequest, Receipt } from "./types.ts";

// Opened on first use, so the modules that import this one load without IndexedDB (tests).
let opened: ReturnType<typeof createStore> | undefined;
const store = () => (opened ??= createStore("posfee-phone", "kv"));

export interface Profile {
  name: string;
  national_id: string;
  bank_account: string;
  device_key_id: string;
  /** The ed25519 device key's 32-byte seed (registered at paygate, signs orders). */
  device_seed: Uint8Array;
  idempotency_key: string;
  payer: string | null;
  balance: Money | null;
}

export interface PendingPayment {
  payment_id: Uint8Array;
  bill_id: Uint8Array;
  request: PayRequest | null;
}

export interface StoredReceipt {
  receipt: Receipt;
  /** The raw MessagePack, as paygate sent it. */
  stored_at: string;
}

/** The bus identity: the nkey seed text (`SU…`), made on this phone and never sent. */
export async function busSeed(): Promise<string | undefined> {
  return get<string>("bus-seed", store());
}
export async function saveBusSeed(seed: string): Promise<void> {
  await set("bus-seed", seed, store());
}

/** The system's root key (`O…`), pinned the first time the app was given one. */
export async function rootKey(): Promise<string | undefined> {
  return get<string>("root-key", store());
}
export async function saveRootKey(key: string): Promise<void> {
  await set("root-key", key, store());
}

/** The stamp computed for a key (its public half), kept so it is computed once. */
export async function stamp(publicKey: string): Promise<number | undefined> {
  return get<number>(`stamp:${publicKey}`, store());
}
export async function saveStamp(publicKey: string, n: number): Promise<void> {
  await set(`stamp:${publicKey}`, n, store());
}

/** Whether the key with this device id was enrolled from this phone. */
export async function isEnrolled(device: string): Promise<boolean> {
  return (await get<boolean>(`enrolled:${device}`, store())) === true;
}
export async function markEnrolled(device: string): Promise<void> {
  await set(`enrolled:${device}`, true, store());
}

export async function profile(): Promise<Profile | undefined> {
  return get<Profile>("profile", store());
}
export async function saveProfile(p: Profile): Promise<void> {
  await set("profile", p, store());
}
export async function forgetProfile(): Promise<void> {
  await del("profile", store());
}

export async function pending(billId: Uint8Array): Promise<PendingPayment | undefined> {
  return get<PendingPayment>(`pending:${hex(billId)}`, store());
}
export async function savePending(p: PendingPayment): Promise<void> {
  await set(`pending:${hex(p.bill_id)}`, p, store());
}
export async function forgetPending(billId: Uint8Array): Promise<void> {
  await del(`pending:${hex(billId)}`, store());
}
export async function pendingAll(): Promise<PendingPayment[]> {
  return (await entries<string, PendingPayment>(store())).filter(([k]) => k.startsWith("pending:")).map(([, v]) => v);
}

export async function saveReceipt(r: Receipt): Promise<void> {
  await set(`receipt:${hex(r.payment_id)}`, { receipt: r, stored_at: new Date().toISOString() }, store());
}
export async function receipts(): Promise<Receipt[]> {
  const all = (await entries<string, StoredReceipt>(store()))
    .filter(([k]) => k.startsWith("receipt:"))
    .map(([, v]) => v.receipt);
  return all.sort((a, b) => b.settled_at.localeCompare(a.settled_at));
}

export async function language(): Promise<string | undefined> {
  return get<string>("lang", store());
}
export async function saveLanguage(l: string): Promise<void> {
  await set("lang", l, store());
}
