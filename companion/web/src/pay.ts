// Paying at a kiosk, as companion/src/{join,wallet,link,pay}.rs do it (docs/contract.md §8, §9):
// mode A joins the pairing a kiosk shows, mode B shows the phone's own code and takes the
// kiosk's offer; either way the signed bill is verified, the payer decides while the phone
// listens for the kiosk ending the pairing, and a device-signed order pays it.
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import type { PairCode } from "./ids.ts";
import { newToken } from "./ids.ts";
import { deviceKey, registered } from "./register.ts";
import * as store from "./store.ts";
import * as subjects from "./subjects.ts";
import { BasketPaid, BillOffer, KioskNotice, PayOrder, Signed, type PayerStep, type PayerUpdate, type PayRequest, type Receipt, type WalletAnswer } from "./types.ts";
import { KeyDirectory, sign, SignError, totalOf, verifyOffer, type VerifiedBill } from "./verify.ts";
import {
  adoptTrace,
  call,
  callResending,
  decode,
  encode,
  fromCall,
  nil,
  NoResponders,
  partPaymentId,
  replyErr,
  replyOk,
  sameBytes,
  TimedOut,
  uuidText,
  uuidV4,
  wireError,
  WireError,
  type Check,
  type Uuid,
} from "./wire.ts";

export const JOIN_TIMEOUT_MS = 5_000;
export const REPORT_TIMEOUT_MS = 3_000;
export const PAY_TIMEOUT_MS = 10_000;
export const PAY_RETRY_MS = 1_000;
/** The pause before asking again after RATE_LIMITED (the phone's budget refills meanwhile). */
export const PAY_RATE_LIMITED_PAUSE_MS = 2_000;
export const PAY_DEADLINE_MS = 60_000;
export const WALLET_TTL_MS = 120_000;
export const GONE_MESSAGE = "this code was already used, cancelled or has expired";

export interface Phone {
  nc: NatsConnection;
  device: string;
  keys: KeyDirectory;
}

const spent = () => wireError("PAIRING_CONFLICT", "this wallet code was already used");

/**
 * A request to a kiosk (a join, a report), answered on a fresh wallet subject of this
 * phone's own: a kiosk may publish there, and nowhere it could be made to relay (`peer::ask`).
 */
export function askKiosk<T>(phone: Phone, subject: string, req: unknown, check: Check<T>, timeoutMs: number): Promise<T> {
  return call(phone.nc, subject, req, check, timeoutMs, subjects.wallet(phone.device, newToken()));
}

/**
 * One wallet subject of this phone's: in mode B first the code the kiosk sends its offer to,
 * then (both modes) the channel on which the kiosk says it ended the pairing.
 */
export class Channel {
  readonly token = newToken();
  readonly sub: Subscription;
  private state: "offers" | "linked" | "closed";
  private billId?: Uuid;
  private early: KioskNotice[] = [];
  private endedResolve!: (n: KioskNotice) => void;
  /** Resolves once the kiosk said it ended the pairing of this bill; never otherwise. */
  readonly ended = new Promise<KioskNotice>((r) => (this.endedResolve = r));
  private offerResolve?: (o: { msg: Msg; offer: BillOffer; verified: VerifiedBill }) => void;

  constructor(
    private phone: Phone,
    takesOffers: boolean,
  ) {
    this.state = takesOffers ? "offers" : "linked";
    this.sub = phone.nc.subscribe(subjects.wallet(phone.device, this.token));
    void this.run();
  }

  get subject(): string {
    return subjects.wallet(this.phone.device, this.token);
  }

  /** Mode B: the first offer that decodes and verifies; the payer decides on it next. */
  nextOffer(): Promise<{ msg: Msg; offer: BillOffer; verified: VerifiedBill }> {
    return new Promise((r) => (this.offerResolve = r));
  }

  /** From now on, notices about `billId` end the payment. */
  link(billId: Uuid): void {
    this.billId = billId;
    this.state = "linked";
    const n = this.early.find((e) => sameBytes(e.bill_id, billId));
    if (n) this.endedResolve(n);
  }

  /** Stops listening; offers already on their way are told the code is spent. */
  close(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    void this.sub.drain().catch(() => {});
  }

  private async run(): Promise<void> {
    for await (const m of this.sub) {
      try {
        await this.handle(m);
      } catch {
        // one bad message never stops the channel
      }
    }
  }

  private async handle(m: Msg): Promise<void> {
    // A kiosk's request names one of its own pairing subjects as the reply, the only kind of
    // subject a phone may answer on (peer::kiosk_asking).
    const asking = subjects.kioskAsking(m.reply);
    if (this.state === "offers") {
      if (!asking) return;
      let offer: BillOffer;
      let verified: VerifiedBill;
      try {
        offer = decode(m.data, BillOffer);
        verified = await verifyOffer(this.phone.keys, offer, offer.terminal);
      } catch (e) {
        const err = e instanceof WireError ? e : wireError("BAD_REQUEST", `malformed offer: ${(e as Error).message}`);
        replyErr(this.phone.nc, m, err);
        return;
      }
      if (this.state !== "offers") {
        replyErr(this.phone.nc, m, spent());
        return;
      }
      // The answer goes to a pairing subject of the offering kiosk or nowhere.
      if (asking !== offer.terminal) return;
      this.link(verified.bill.bill_id);
      this.offerResolve?.({ msg: m, offer, verified });
      return;
    }
    if (m.reply) {
      if (asking) replyErr(this.phone.nc, m, spent());
      return;
    }
    let n: KioskNotice;
    try {
      n = decode(m.data, KioskNotice);
    } catch {
      return;
    }
    if (this.billId === undefined) this.early.push(n);
    else if (sameBytes(n.bill_id, this.billId)) this.endedResolve(n);
  }
}

/** The phone's side of the temporary connection once it has the bill. */
export interface Session {
  verified: VerifiedBill;
  terminal: string;
  updates: string | null;
  channel: Channel;
  /** Mode B: the kiosk's offer, still to be answered. */
  offerMsg?: Msg;
}

/** Mode A: joins the pairing a kiosk shows (companion/src/join.rs). */
export async function join(phone: Phone, code: PairCode): Promise<Session> {
  if (code.mode !== "terminal_presents") {
    throw wireError("INVALID_FIELD", "code: this is a phone wallet code, not a kiosk pairing code");
  }
  const terminal = code.presenter;
  const channel = new Channel(phone, false);
  let offer: BillOffer;
  try {
    offer = await askKiosk(
      phone,
      subjects.pair(terminal, code.token),
      { terminal, bill_id: code.billId ?? null, notify: { device: phone.device, token: channel.token } },
      BillOffer,
      JOIN_TIMEOUT_MS,
    );
  } catch (e) {
    channel.close();
    if (e instanceof NoResponders) throw wireError("PAIRING_GONE", GONE_MESSAGE);
    if (e instanceof TimedOut) throw wireError("UNAVAILABLE", "the kiosk did not answer in time");
    throw fromCall(e);
  }
  let verified: VerifiedBill;
  try {
    verified = await verifyOffer(phone.keys, offer, terminal);
    if (code.billId && !sameBytes(code.billId, verified.bill.bill_id)) {
      throw wireError(
        "FORBIDDEN",
        `the code was shown for bill ${uuidText(code.billId)}, the kiosk sent ${uuidText(verified.bill.bill_id)}`,
      );
    }
  } catch (e) {
    channel.close();
    throw e;
  }
  channel.link(verified.bill.bill_id);
  return { verified, terminal, updates: offer.updates ?? null, channel };
}

/** Mode B: a wallet code on the screen, listening (companion/src/wallet.rs). */
export interface ShownCode {
  channel: Channel;
  code: PairCode;
  expiresAt: Date;
}

export async function show(phone: Phone, ttlMs = WALLET_TTL_MS): Promise<ShownCode> {
  const channel = new Channel(phone, true);
  // A round trip through the server: the code is routable once it is shown.
  await phone.nc.flush();
  return {
    channel,
    code: { mode: "phone_presents", presenter: phone.device, token: channel.token },
    expiresAt: new Date(Date.now() + ttlMs),
  };
}

/** Waits for the first good offer on a shown code, or its expiry / cancellation. */
export async function waitOffer(shown: ShownCode, cancelled: Promise<void>): Promise<Session> {
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(wireError("PAIRING_GONE", `no kiosk sent a bill within ${WALLET_TTL_MS / 1000} s`)),
      Math.max(0, shown.expiresAt.getTime() - Date.now()),
    ),
  );
  const cancel = cancelled.then(() => {
    throw wireError("PAIRING_GONE", "cancelled on the phone");
  });
  try {
    const { msg, offer, verified } = await Promise.race([shown.channel.nextOffer(), timeout, cancel]);
    // The payment goes on in the kiosk's trace.
    adoptTrace(msg);
    return { verified, terminal: offer.terminal, updates: offer.updates ?? null, channel: shown.channel, offerMsg: msg };
  } catch (e) {
    shown.channel.close();
    throw e;
  }
}

/** Tells the kiosk how things stand; best effort (the kiosk closes the bill when it hears nothing). */
export async function report(
  phone: Phone,
  s: Session,
  step: PayerStep,
  paymentId: Uuid | null,
  refusal?: WireError,
): Promise<void> {
  if (!s.updates) return;
  const update: PayerUpdate = {
    bill_id: s.verified.bill.bill_id,
    step,
    payment_id: paymentId,
    code: refusal ? refusal.code : null,
    message: refusal ? refusal.message : null,
  };
  try {
    await askKiosk(phone, subjects.pair(s.terminal, s.updates), update, nil, REPORT_TIMEOUT_MS);
  } catch {
    // the kiosk did not hear the report
  }
}

export function declined(): WireError {
  return wireError("PAYER_DECLINED", "the payer declined; nothing was paid");
}

export function endedError(n: KioskNotice): WireError {
  return wireError("PAIRING_GONE", `the kiosk ended this payment (${n.reason.replace(/_/g, " ")}); nothing was paid`);
}

/** The payer declined: mode A reports it on the updates subject, mode B answers the offer. */
export async function decline(phone: Phone, s: Session): Promise<WireError> {
  if (s.offerMsg) {
    replyErr(phone.nc, s.offerMsg, declined());
    await phone.nc.flush();
  } else {
    await report(phone, s, "declined", null);
  }
  s.channel.close();
  return declined();
}

/** The payment id for `bill`: the one already chosen, or a new one, stored first. */
export async function paymentIdFor(billId: Uuid): Promise<Uuid> {
  const p = await store.pending(billId);
  if (p) return p.payment_id;
  const paymentId = uuidV4();
  await store.savePending({ payment_id: paymentId, bill_id: billId, request: null });
  return paymentId;
}

/**
 * An order this phone sent for the bill and never learnt the outcome of is sent again as it
 * was; an offer of the same first bill with other bills beside it is refused until that
 * outcome is known, rather than overwriting the order that may have been paid (`pay.rs`).
 */
async function sameBillsAsBefore(v: VerifiedBill): Promise<void> {
  const p = await store.pending(v.bill.bill_id);
  if (!p?.request) return;
  const before = (p.request.more_bills ?? []).map((b) => uuidText(b.bill_id)).join(",");
  const now = v.more.map((m) => uuidText(m.bill.bill_id)).join(",");
  if (before !== now) {
    throw wireError(
      "OUTCOME_UNKNOWN",
      `payment ${uuidText(p.payment_id)} is not confirmed yet; it will be completed or released on its own, and the receipts screen will show which`,
    );
  }
}

/** The payer confirmed: mode B answers the kiosk first, then both pay (companion/src/pay.rs). */
export async function confirmAndPay(phone: Phone, s: Session): Promise<Receipt[]> {
  const bill = s.verified.bill;
  await sameBillsAsBefore(s.verified);
  const paymentId = await paymentIdFor(bill.bill_id);
  if (s.offerMsg) {
    // Mode B: the kiosk learns the payer confirmed, and the payment id, before the payment.
    const answer: WalletAnswer = { payment_id: paymentId, bill_id: bill.bill_id };
    replyOk(phone.nc, s.offerMsg, encode(answer));
    await phone.nc.flush();
  }
  let profile, payer;
  try {
    ({ profile, payer } = await registered());
  } catch (e) {
    s.channel.close();
    throw e;
  }
  const more = s.verified.more;
  const order: PayOrder = {
    payment_id: paymentId,
    payer,
    bill_id: bill.bill_id,
    amount: { fen: totalOf(s.verified), currency: bill.total.currency },
    terminal: bill.terminal,
  };
  // Absent for one bill, so a single bill's order is the bytes it always was.
  if (more.length > 0) order.more_bills = more.map((m) => m.bill.bill_id);
  const req: PayRequest = {
    order: sign("device-pay", order, profile.device_key_id, deviceKey(profile).secretKey),
    bill: s.verified.issued,
  };
  if (more.length > 0) req.more_bills = more.map((m) => m.issued);
  if (s.verified.pairing) req.pairing = s.verified.pairing;
  await store.savePending({ payment_id: paymentId, bill_id: bill.bill_id, request: req });
  await report(phone, s, "paying", paymentId);
  try {
    return await send(phone, req, order);
  } catch (e) {
    const err = e instanceof WireError ? e : fromCall(e);
    if (err.code !== "OUTCOME_UNKNOWN") await report(phone, s, "not_paid", paymentId, err);
    throw err;
  } finally {
    s.channel.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends the stored order until the platform answers for good (`pay::send`): one receipt, or a basket's in order. */
export async function send(phone: Phone, req: PayRequest, order: PayOrder, deadlineMs = PAY_DEADLINE_MS): Promise<Receipt[]> {
  const basket = (req.more_bills ?? []).length > 0;
  const signed = basket
    ? (await ask(phone, req, order, BasketPaid, deadlineMs)).receipts
    : [await ask(phone, req, order, Signed, deadlineMs)];
  const bills = [order.bill_id, ...(order.more_bills ?? [])];
  if (signed.length !== bills.length) {
    throw wireError("INTERNAL", `the platform answered ${bills.length} bills with ${signed.length} receipts`);
  }
  const receipts: Receipt[] = [];
  for (const [i, s] of signed.entries()) {
    const expected = basket ? partPaymentId(order.payment_id, bills[i]) : order.payment_id;
    receipts.push(await kept(phone, s, expected, bills[i], order));
  }
  for (const r of receipts) await store.saveReceipt(r);
  await store.forgetPending(order.bill_id);
  return receipts;
}

const notConfirmed = (order: PayOrder) =>
  wireError(
    "OUTCOME_UNKNOWN",
    `payment ${uuidText(order.payment_id)} is not confirmed yet; it will be completed or released on its own, and the receipts screen will show which`,
  );

/** Asks the platform until it answers for good (see `send`). */
async function ask<T>(phone: Phone, req: PayRequest, order: PayOrder, check: Check<T>, deadlineMs: number): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await callResending(phone.nc, subjects.paygate("pay", subjects.asker(phone.nc)), req, check, PAY_TIMEOUT_MS);
    } catch (e) {
      // Too many requests: the order never reached the platform; ask again after a pause.
      const limited = e instanceof WireError && e.code === "RATE_LIMITED";
      // The payment exists but is not this key's to see (the phone made a new key since it
      // sent the order): it may have been taken, so it is not forgotten.
      if (e instanceof WireError && e.code === "FORBIDDEN") throw notConfirmed(order);
      if (e instanceof WireError && e.status < 500 && !limited) {
        await store.forgetPending(order.bill_id);
        throw e;
      }
      if (Date.now() >= deadline) throw notConfirmed(order);
      await sleep(limited ? PAY_RATE_LIMITED_PAUSE_MS : PAY_RETRY_MS);
    }
  }
}

/** A receipt kept only as the ledger signed it (contract section 8, "Believe a receipt"), and only the one expected. */
async function kept(phone: Phone, signed: Signed, payment: Uuid, bill: Uuid, order: PayOrder): Promise<Receipt> {
  let receipt: Receipt;
  try {
    receipt = await phone.keys.verifyReceipt(signed);
  } catch (e) {
    if (e instanceof SignError) throw wireError("BAD_SIGNATURE", `the receipt is not signed by the ledger: ${e.message}`);
    throw notConfirmed(order);
  }
  if (!sameBytes(receipt.payment_id, payment) || !sameBytes(receipt.bill_id, bill)) {
    throw wireError(
      "INTERNAL",
      `the platform answered with a receipt for payment ${uuidText(receipt.payment_id)} of bill ${uuidText(receipt.bill_id)}`,
    );
  }
  return receipt;
}

/** Asks again about every payment whose outcome this phone has not learnt; returns how many are still open. */
export async function resolvePending(phone: Phone): Promise<number> {
  let open = 0;
  for (const p of await store.pendingAll()) {
    if (!p.request) {
      await store.forgetPending(p.bill_id);
      continue;
    }
    try {
      const order = decode(p.request.order.body, PayOrder);
      await send(phone, p.request, order, 0);
    } catch (e) {
      if (e instanceof WireError && e.code === "OUTCOME_UNKNOWN") open++;
    }
  }
  return open;
}
