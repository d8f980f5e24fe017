// The wire types the phone reads and writes (schemas/asyncapi.yaml). Field order is the
// order the Rust structs serialize, which is the order asyncapi.yaml lists.
import type { Uuid } from "./wire.ts";

export interface Money {
  fen: number;
  currency?: string | null;
}

export interface Signed {
  body: Uint8Array;
  key_id: string;
  signature: Uint8Array;
}

export interface IssuedBill {
  bill_id: Uuid;
  signed: Signed;
}

export interface BillLine {
  kind: string;
  period: string;
  quantity: string;
  unit: string;
  unit_price: string;
  amount: number;
  rule_id: string;
  rule_version: string;
  explanation: string;
  label?: string;
  label_zh?: string;
  unit_zh?: string;
  explanation_zh?: string;
}

export interface Bill {
  bill_id: Uuid;
  tenant: string;
  tenant_name: string;
  account: string;
  terminal: string;
  as_of: string;
  lines: BillLine[];
  total: Money;
  issued_at: string;
  expires_at: string;
  holder_masked?: string | null;
  tenant_name_zh?: string;
  class?: string;
  class_zh?: string;
}

export interface BillOffer {
  terminal: string;
  bill: IssuedBill;
  pairing_expires_at: string;
  updates?: string | null;
}

export interface PhoneChannel {
  device: string;
  token: string;
}

export interface PairJoin {
  terminal: string;
  bill_id: Uuid | null;
  notify: PhoneChannel | null;
}

export type PayerStep = "paying" | "declined" | "not_paid";

export interface PayerUpdate {
  bill_id: Uuid;
  step: PayerStep;
  payment_id: Uuid | null;
  code: string | null;
  message: string | null;
}

export interface KioskNotice {
  bill_id: Uuid;
  reason: string;
}

export interface WalletAnswer {
  payment_id: Uuid;
  bill_id: Uuid;
}

export interface PayOrder {
  payment_id: Uuid;
  payer: string;
  bill_id: Uuid;
  amount: Money;
  terminal: string;
}

export interface PayRequest {
  order: Signed;
  bill: IssuedBill;
}

export interface Receipt {
  payment_id: Uuid;
  bill_id: Uuid;
  tenant: string;
  tenant_name: string;
  account: string;
  terminal: string;
  lines: BillLine[];
  total: Money;
  settled_at: string;
  tenant_name_zh?: string;
}

export interface RegisterRequest {
  name: string;
  national_id: string;
  bank_account: string;
  device_public_key: Uint8Array;
  device_key_id: string;
  idempotency_key: string;
  device_proof: Uint8Array;
}

export interface RegisterReply {
  payer: string;
  balance: Money;
}

export interface AmendRequest {
  name?: string;
  bank_account?: string;
  /** The registered device key's id; paygate finds the payer by it. */
  device_key_id: string;
  /** ed25519 over "posfee/v1/device-amend" NUL key id NUL name NUL bank account. */
  device_proof: Uint8Array;
}

export interface AmendReply {
  payer: string;
  changed: string[];
}

export interface Authority {
  name: string;
  public_key: Uint8Array;
  may: string[];
  issued_at: string;
}

export interface DirectoryEntry {
  record: Signed;
  authority: Signed;
}

export interface PublicKeyRecord {
  key_id: string;
  purpose: string;
  owner: string;
  public_key: Uint8Array;
  published_at: string;
}
