// The wire types the phone reads and writes (schemas/asyncapi.yaml). Field order is the
// order the Rust structs serialize, which is the order asyncapi.yaml lists. Each type the
// phone reads has a check of the same name next to it (wire.ts `Check`): what the bus brings
// is read through it, never cast. Optional fields may be absent or nil (`nil_is_default`).
import { bytes, int, list, optional, shape, str, uuid, type Uuid } from "./wire.ts";

export interface Money {
  fen: number;
  currency?: string | null;
}
export const Money = shape<Money>({ fen: int, currency: optional(str) });

export interface Signed {
  body: Uint8Array;
  key_id: string;
  signature: Uint8Array;
}
export const Signed = shape<Signed>({ body: bytes, key_id: str, signature: bytes });

export interface IssuedBill {
  bill_id: Uuid;
  signed: Signed;
}
export const IssuedBill = shape<IssuedBill>({ bill_id: uuid, signed: Signed });

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
  label?: string | null;
  label_zh?: string | null;
  unit_zh?: string | null;
  explanation_zh?: string | null;
}
export const BillLine = shape<BillLine>({
  kind: str,
  period: str,
  quantity: str,
  unit: str,
  unit_price: str,
  amount: int,
  rule_id: str,
  rule_version: str,
  explanation: str,
  label: optional(str),
  label_zh: optional(str),
  unit_zh: optional(str),
  explanation_zh: optional(str),
});

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
  tenant_name_zh?: string | null;
  class?: string | null;
  class_zh?: string | null;
  /** The basket the bill was issued in (since 0.4.0): paid only with its other bills. */
  basket?: BasketTag | null;
}

/** Signed into every bill of a basket (contract section 13). */
export interface BasketTag {
  id: Uuid;
  size: number;
}
export const BasketTag = shape<BasketTag>({ id: uuid, size: int });

export const Bill = shape<Bill>({
  bill_id: uuid,
  tenant: str,
  tenant_name: str,
  account: str,
  terminal: str,
  as_of: str,
  lines: list(BillLine),
  total: Money,
  issued_at: str,
  expires_at: str,
  holder_masked: optional(str),
  tenant_name_zh: optional(str),
  class: optional(str),
  class_zh: optional(str),
  basket: optional(BasketTag),
});

/** How the kiosk showed its pairing (since 0.5.0): handed on to paygate in the pay request. */
export interface PairingShown {
  mode: string;
  opened_at: string;
  expires_at: string;
}
export const PairingShown = shape<PairingShown>({ mode: str, opened_at: str, expires_at: str });

export interface BillOffer {
  terminal: string;
  bill: IssuedBill;
  pairing_expires_at: string;
  updates?: string | null;
  /** A basket's other bills (since 0.4.0); `bill` is its first. */
  more_bills?: IssuedBill[] | null;
  /** How the kiosk showed this pairing (since 0.5.0). */
  pairing?: PairingShown | null;
}
export const BillOffer = shape<BillOffer>({
  terminal: str,
  bill: IssuedBill,
  pairing_expires_at: str,
  updates: optional(str),
  more_bills: optional(list(IssuedBill)),
  pairing: optional(PairingShown),
});

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
export const KioskNotice = shape<KioskNotice>({ bill_id: uuid, reason: str });

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
  /** A basket's other bills, in the offer's order; absent for one bill (since 0.4.0). */
  more_bills?: Uuid[] | null;
}
export const PayOrder = shape<PayOrder>({
  payment_id: uuid,
  payer: str,
  bill_id: uuid,
  amount: Money,
  terminal: str,
  more_bills: optional(list(uuid)),
});

export interface PayRequest {
  order: Signed;
  bill: IssuedBill;
  /** A basket's other bills; absent for one bill (since 0.4.0). */
  more_bills?: IssuedBill[];
  /** The offer's `pairing`, handed on as it came; absent when it had none (since 0.5.0). */
  pairing?: PairingShown;
}

/** Paygate's answer to a basket order: each bill's receipt, signed by the ledger, in order. */
export interface BasketPaid {
  payment_id: Uuid;
  total: Money;
  receipts: Signed[];
}
export const BasketPaid = shape<BasketPaid>({ payment_id: uuid, total: Money, receipts: list(Signed) });

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
  tenant_name_zh?: string | null;
}
export const Receipt = shape<Receipt>({
  payment_id: uuid,
  bill_id: uuid,
  tenant: str,
  tenant_name: str,
  account: str,
  terminal: str,
  lines: list(BillLine),
  total: Money,
  settled_at: str,
  tenant_name_zh: optional(str),
});

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
export const RegisterReply = shape<RegisterReply>({ payer: str, balance: Money });

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
export const AmendReply = shape<AmendReply>({ payer: str, changed: list(str) });

export interface Authority {
  name: string;
  public_key: Uint8Array;
  may: string[];
  issued_at: string;
}
export const Authority = shape<Authority>({ name: str, public_key: bytes, may: list(str), issued_at: str });

export interface DirectoryEntry {
  record: Signed;
  authority: Signed;
}
export const DirectoryEntry = shape<DirectoryEntry>({ record: Signed, authority: Signed });

export interface PublicKeyRecord {
  key_id: string;
  purpose: string;
  owner: string;
  public_key: Uint8Array;
  published_at: string;
}
export const PublicKeyRecord = shape<PublicKeyRecord>({
  key_id: str,
  purpose: str,
  owner: str,
  public_key: bytes,
  published_at: str,
});
