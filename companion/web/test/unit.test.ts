// The phone's wire code against the contract's worked examples (docs/contract.md), the same
// bytes schemas/tests/contract_doc.rs checks the Rust code against.
import { test } from "node:test";
import { TimeoutError } from "@nats-io/nats-core";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import nacl from "tweetnacl";
import { createOperator, createUser } from "@nats-io/nkeys";
import { BadCheck, crc16, deviceIdOfNkey, link, parseCode, typed, WrongMode, type PairCode } from "../src/ids.ts";
import { amendRequest, checkBankAccount, checkName, checkNationalId, registerRequest } from "../src/register.ts";
import { KeyDirectory, sign, signedMessage, SignError, TrustRoot, verifyOffer, verifyWith } from "../src/verify.ts";
import { enrolProof, findStamp, KeyStatus, stampBits, stampNeeded } from "../src/enrol.ts";
import { adoptTrace, call, callResending, currentTrace, RESEND_AFTER_MS, TimedOut, decode, encode, errorFromHeaders, hex, parseInstant, partPaymentId, shape, traceOf, str, unhex, utf8, uuidParse, uuidText, WireError } from "../src/wire.ts";
import { asker, identityEnrol, identityStatus, keysGet, kioskAsking, pair, paygate, statusReply, wallet } from "../src/subjects.ts";
import type { Profile } from "../src/store.ts";
import { AmendReply, BasketPaid, Bill, BillOffer, DirectoryEntry, PublicKeyRecord, RegisterReply, Signed, type AmendRequest } from "../src/types.ts";
import { localTime, localTimeParts, money, periodText, pickLanguage, setLanguage } from "../src/i18n.ts";

/** The repository, found upwards from the working directory by its docs/contract.md. */
function repoRoot(): string {
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "docs/contract.md"))) return dir;
    if (path.dirname(dir) === dir) throw new Error("docs/contract.md not found");
  }
}
const doc = fs.readFileSync(path.join(repoRoot(), "docs/contract.md"), "utf8");

/** The bytes of the block "```hex NAME". */
function block(name: string): Uint8Array {
  const start = doc.indexOf("```hex " + name + "\n");
  assert.ok(start >= 0, `no block ${name}`);
  const body = doc.slice(start + 8 + name.length, doc.indexOf("```", start + 8));
  return unhex(body.replace(/\s+/g, ""));
}

const billId = uuidParse("1b4e28ba-2fa1-41d2-883f-0016d3cca427");

test("device id of a user nkey", () => {
  assert.equal(deviceIdOfNkey("UDDHGG7AA5RHJWUPKTBA2ZTFTRDNGYPD3BEU36KO3U47PP72RTNXB7OB"), "phdhgg7aa5");
  assert.throws(() => deviceIdOfNkey("NDDHGG7AA5RHJWUPKTBA2ZTFTRDNGYPD3BEU36KO3U47PP72RTNXB7OB"));
  assert.throws(() => deviceIdOfNkey("UDDHGG"));
});

test("CRC-16/CCITT-FALSE check value", () => {
  assert.equal(crc16(utf8.encode("123456789")), 0x29b1);
});

test("pairing codes of the worked examples, both ways", () => {
  const a: PairCode = { mode: "terminal_presents", presenter: "kiosk-01", token: "00112233445566778899aabbccddeeff", billId };
  assert.equal(typed(a), "kiosk-01:0024-H36H-2NCS-VRH6-DAQF-6DVV-QZR6");
  assert.equal(link(a), "posfee://pair/kiosk-01/00112233445566778899aabbccddeeff?bill=1b4e28ba-2fa1-41d2-883f-0016d3cca427");
  const b: PairCode = { mode: "phone_presents", presenter: "phdhgg7aa5", token: "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5" };
  assert.equal(typed(b), "phdhgg7aa5:50P7-1D7S-7NMT-VWHP-F0Y6-HB7H-6N2W");
  assert.deepEqual(parseCode(link(a)), a);
  const typedA = { mode: a.mode, presenter: a.presenter, token: a.token };
  assert.deepEqual(parseCode("kiosk-01:0024-h36h-2ncs-vrh6-daqf-6dvv-qzr6", "terminal_presents"), typedA);
  assert.deepEqual(parseCode("kiosk-01/0024 H36H 2NCS VRH6 DAQF 6DVV QZR6"), typedA);
  assert.deepEqual(parseCode("kiosk-01:OO24-H36H-2NCS-VRH6-DAQF-6DVV-QZR6"), typedA);
  assert.deepEqual(parseCode(typed(b)), b);
  assert.throws(() => parseCode("kiosk-01:0024-H36H-2NCS-VRH6-DAQF-6DVV-QZR7"), /check/);
  assert.throws(() => parseCode(typed(b), "terminal_presents"), /wallet code/);
  assert.throws(() => parseCode("posfee://pair/kiosk-01/00112233445566778899aabbccddeeff?x=1"));
  assert.throws(() => parseCode("posfee://wallet/phdhgg7aa5/a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5#x"));
  assert.throws(() => parseCode("https://example.com/x"));
});

test("paygate's field checks", () => {
  assert.equal(checkNationalId("11010519491231002X"), undefined);
  assert.equal(checkNationalId("11010519491231002x"), undefined);
  assert.match(checkNationalId("110105194912310021")!.message, /check character/);
  assert.match(checkNationalId("1101051949")!.message, /17 digits/);
  assert.equal(checkBankAccount("6222600260001072444"), undefined);
  assert.match(checkBankAccount("6222600260001072445")!.message, /Luhn/);
  assert.match(checkBankAccount("62226002")!.message, /12 to 19/);
  assert.equal(checkName("张三"), undefined);
  assert.ok(checkName("  "));
  assert.ok(checkName("x".repeat(65)));
});

test("the registration request is the contract's, byte for byte", () => {
  const p: Profile = {
    name: "张三",
    national_id: "11010519491231002X",
    bank_account: "6222020200112233445",
    device_key_id: "dev-0011223344556677",
    device_seed: new Uint8Array(32).fill(0x22),
    idempotency_key: "register-0011223344556677",
    payer: null,
    balance: null,
  };
  const req = registerRequest(p);
  assert.equal(hex(req.device_public_key), hex(block("register.public-key")));
  assert.equal(hex(req.device_proof), hex(block("register.proof")));
  assert.equal(hex(encode(req)), hex(block("register.request")));
});

const registered: Profile = {
  name: "张叁",
  national_id: "11010519491231002X",
  bank_account: "6222600260001072444",
  device_key_id: "dev-0011223344556677",
  device_seed: new Uint8Array(32).fill(0x22),
  idempotency_key: "register-0011223344556677",
  payer: "p-5e1d0c9b8a7f6e5d4c3b2a19",
  balance: { fen: 1_000_000, currency: "CNY" },
};

test("a correction sends what changed, checked first, never the national id", () => {
  const fields = (r: AmendRequest) => ({ name: r.name, bank_account: r.bank_account });
  const sent = (name?: string, bank_account?: string) => ({ name, bank_account });
  assert.deepEqual(fields(amendRequest(registered, { name: " 张三 ", bank_account: registered.bank_account })), sent("张三"));
  assert.deepEqual(fields(amendRequest(registered, { name: "张叁", bank_account: "4111111111111111" })), sent(undefined, "4111111111111111"));
  assert.deepEqual(fields(amendRequest(registered, { name: "张叁", bank_account: " 6222600260001072444" })), sent());
  assert.equal(amendRequest(registered, { name: "张三", bank_account: registered.bank_account }).device_key_id, registered.device_key_id);
  const refused = (field: string) => (e: unknown) => e instanceof WireError && e.code === "INVALID_FIELD" && e.message.startsWith(`${field}:`);
  assert.throws(() => amendRequest(registered, { name: "  ", bank_account: registered.bank_account }), refused("name"));
  assert.throws(() => amendRequest(registered, { name: "x".repeat(65), bank_account: registered.bank_account }), refused("name"));
  assert.throws(() => amendRequest(registered, { name: "张叁", bank_account: "4111111111111112" }), refused("bank_account"));
});

test("the correction is the contract's, byte for byte", () => {
  const req = amendRequest({ ...registered, name: "张三" }, { name: "张叁", bank_account: registered.bank_account });
  assert.equal(hex(encode(req)), hex(block("amend.request")));
  // The proof signs what the contract says it signs.
  assert.equal(hex(signedMessage("device-amend", utf8.encode("dev-0011223344556677\0张叁\0"))), hex(block("amend.proof-message")));
  assert.deepEqual(decode(block("amend.reply"), AmendReply), { payer: "p-5e1d0c9b8a7f6e5d4c3b2a19", changed: ["name"] });
});

test("the bill's signature verifies and its body decodes", () => {
  const body = block("bill.body");
  assert.ok(verifyWith(block("bill.public-key"), "bill", body, block("bill.signature")));
  assert.ok(!verifyWith(block("bill.public-key"), "settlement", body, block("bill.signature")));
  const tampered = body.slice();
  tampered[tampered.length - 1] ^= 1;
  assert.ok(!verifyWith(block("bill.public-key"), "bill", tampered, block("bill.signature")));
  const bill = decode(body, Bill);
  assert.equal(bill.tenant, "city-water");
  assert.equal(bill.total.fen, 2588);
});

test("join, updates and the signed order are the contract's bytes", () => {
  const join = { terminal: "kiosk-01", bill_id: billId, notify: { device: "phdhgg7aa5", token: "0123456789abcdef0123456789abcdef" } };
  assert.equal(hex(encode(join)), hex(block("pair.join")));
  const paymentId = uuidParse("9a3f6c1e-7b2d-4e8f-a051-3c6d9e2f4b70");
  const paying = { bill_id: billId, step: "paying", payment_id: paymentId, code: null, message: null };
  assert.equal(hex(encode(paying)), hex(block("update.paying")));
  const order = { payment_id: paymentId, payer: "p-5e1d0c9b8a7f6e5d4c3b2a19", bill_id: billId, amount: { fen: 2588, currency: "CNY" }, terminal: "kiosk-01" };
  const key = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(0x22));
  const signed = sign("device-pay", order, "dev-0011223344556677", key.secretKey);
  assert.equal(hex(signed.body), hex(block("order.body")));
  assert.equal(hex(signed.signature), hex(block("order.signature")));
  const answer = { payment_id: paymentId, bill_id: billId };
  assert.equal(hex(encode(answer)), hex(block("wallet.answer")));
  assert.equal(hex(encode(null)), hex(block("update.ack")));
});

test("the offer decodes with the signed body kept as bytes", () => {
  const offer = decode(block("pair.offer"), BillOffer);
  assert.equal(offer.terminal, "kiosk-01");
  assert.equal(offer.updates, "ffeeddccbbaa99887766554433221100");
  assert.equal(hex(offer.bill.signed.body), hex(block("bill.body")));
  // Sending it on (PayRequest, CloseRequest) writes the same bytes again.
  assert.equal(hex(encode(offer.bill)), hex(block("bill.issued")));
});

/** The text of the block "```text NAME". */
function textBlock(name: string): string {
  const start = doc.indexOf("```text " + name + "\n");
  assert.ok(start >= 0, `no block ${name}`);
  return doc.slice(start + 9 + name.length, doc.indexOf("```", start + 9)).trim();
}

test("a basket: the offer's bills, the order over all of them and the bills' payment ids are the contract's", () => {
  const offer = decode(block("basket.offer"), BillOffer);
  const second = decode(block("basket.bill-2"), Bill);
  assert.equal(offer.more_bills?.length, 1);
  assert.equal(hex(offer.more_bills![0].signed.body), hex(block("basket.bill-2")));
  const first = decode(offer.bill.signed.body, Bill);
  assert.equal(hex(first.basket!.id), hex(second.basket!.id));
  assert.equal(second.basket!.size, 2);
  const paymentId = uuidParse("9a3f6c1e-7b2d-4e8f-a051-3c6d9e2f4b70");
  const order = {
    payment_id: paymentId,
    payer: "p-5e1d0c9b8a7f6e5d4c3b2a19",
    bill_id: first.bill_id,
    amount: { fen: first.total.fen + second.total.fen, currency: "CNY" },
    terminal: "kiosk-01",
    more_bills: [second.bill_id],
  };
  const key = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(0x22));
  assert.equal(hex(sign("device-pay", order, "dev-0011223344556677", key.secretKey).body), hex(block("basket.order.body")));
  const parts = [partPaymentId(paymentId, first.bill_id), partPaymentId(paymentId, second.bill_id)].map(uuidText);
  assert.equal(parts.join("\n"), textBlock("basket.part-ids"));
  const paid = decode(block("basket.paid"), BasketPaid);
  assert.equal(paid.receipts.length, 2);
  assert.equal(paid.total.fen, order.amount.fen);
});

test("an offer of part of a basket is refused before anything is shown", async () => {
  const offer = decode(block("basket.offer"), BillOffer);
  const keys = { verifyBill: async (s: Signed) => decode(s.body, Bill) } as unknown as KeyDirectory;
  const now = new Date("2026-11-25T08:31:00Z");
  const whole = await verifyOffer(keys, offer, "kiosk-01", now);
  assert.equal(whole.more.length, 1);
  await assert.rejects(verifyOffer(keys, { ...offer, more_bills: [] }, "kiosk-01", now), (e: WireError) => e.code === "FORBIDDEN");
});

test("the enrolment proof is the key's signature over its tagged public key", () => {
  const kp = createUser();
  const proof = enrolProof(kp);
  assert.equal(proof.length, 64);
  assert.ok(kp.verify(utf8.encode(`posfee.enrol.v1:${kp.getPublicKey()}`), proof));
});

test("the language: the payer's choice, else the browser's, else English", () => {
  assert.equal(pickLanguage(undefined, ["zh-CN", "en-US"]), "zh-CN");
  assert.equal(pickLanguage(undefined, ["zh-TW"]), "zh-CN");
  assert.equal(pickLanguage(undefined, ["en-GB", "zh-CN"]), "en");
  assert.equal(pickLanguage("en", ["zh-CN"]), "en");
  assert.equal(pickLanguage(undefined, ["fr-FR"]), "en");
});

test("instants as the contract writes and accepts them", () => {
  assert.equal(parseInstant("2026-11-25T08:30:00.123456789Z"), Date.UTC(2026, 10, 25, 8, 30, 0, 123));
  assert.equal(parseInstant("2026-11-25T08:32:00Z"), Date.UTC(2026, 10, 25, 8, 32));
  assert.equal(parseInstant("2026-11-25 16:30:00+0800"), Date.UTC(2026, 10, 25, 8, 30));
  assert.equal(parseInstant("2026-11-25t16:30:00.5+08:00"), Date.UTC(2026, 10, 25, 8, 30, 0, 500));
  assert.ok(Number.isNaN(parseInstant("2026-11-25T08:30:00")));
  assert.ok(Number.isNaN(parseInstant("2026-11-25T08:30Z")));
});

/** The contract's text block "```text NAME". */
function text(name: string): string {
  const start = doc.indexOf("```text " + name + "\n");
  assert.ok(start >= 0, `no block ${name}`);
  return doc.slice(start + 9 + name.length, doc.indexOf("```", start + 9)).trim();
}

/** A bus that answers key look-ups from `answers` (by "purpose.key_id") and records them. */
function directoryBus(answers: Record<string, Uint8Array>, asked: string[]) {
  return {
    options: { inboxPrefix: "_INBOX.device.phdhgg7aa5" },
    request: async (subject: string, data: Uint8Array) => {
      const req = decode(data, shape<{ purpose: string; key_id: string }>({ purpose: str, key_id: str }));
      asked.push(`${subject} ${req.purpose}.${req.key_id}`);
      const answer = answers[`${req.purpose}.${req.key_id}`];
      if (!answer) {
        const h = new Map([
          ["Nats-Service-Error-Code", ["401"]],
          ["Nats-Service-Error", [`BAD_SIGNATURE: ${req.key_id} is not in the key directory`]],
        ]);
        return { data: new Uint8Array(0), headers: { get: (k: string) => h.get(k)?.[0] ?? "", has: (k: string) => h.has(k) } };
      }
      return { data: answer, headers: undefined };
    },
  };
}

test("an offer is checked as the CLI checks it: key from the directory through the root, terminal, expiry", async () => {
  const asked: string[] = [];
  const root = new TrustRoot(text("keydir.root"));
  const keys = new KeyDirectory(directoryBus({ "bill.city-water-1": block("keydir.entry") }, asked) as never, root);
  const offer = decode(block("pair.offer"), BillOffer);
  const during = new Date(Date.UTC(2026, 10, 25, 8, 31));
  const v = await verifyOffer(keys, offer, "kiosk-01", during);
  assert.equal(v.bill.account, "3-1-1202");
  assert.deepEqual(asked, ["posfee.keys.get.device.phdhgg7aa5 bill.city-water-1"]);
  await assert.rejects(verifyOffer(keys, offer, "kiosk-02", during), { code: "FORBIDDEN" });
  await assert.rejects(verifyOffer(keys, offer, "kiosk-01", new Date(Date.UTC(2026, 10, 25, 9))), { code: "BILL_EXPIRED" });
  assert.equal(asked.length, 1, "a key once verified is kept");
  // A forged signature is BAD_SIGNATURE.
  const forged = decode(block("pair.offer"), BillOffer);
  forged.bill.signed.signature[0] ^= 1;
  await assert.rejects(verifyOffer(keys, forged, "kiosk-01", during), { code: "BAD_SIGNATURE" });
});

test("a key record not signed through the pinned root is refused, wherever it was found", async () => {
  const offer = decode(block("pair.offer"), BillOffer);
  const during = new Date(Date.UTC(2026, 10, 25, 8, 31));
  // The same entry, believed through another root: refused.
  const other = new TrustRoot(createOperator().getPublicKey());
  const elsewhere = new KeyDirectory(directoryBus({ "bill.city-water-1": block("keydir.entry") }, []) as never, other);
  await assert.rejects(verifyOffer(elsewhere, offer, "kiosk-01", during), { code: "BAD_SIGNATURE" });
  // A bucket entry a forger wrote: the real key's record, signed by an authority of its own
  // root. The pinned root refuses it.
  const forger = createOperator();
  const authorityKey = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(0x77));
  const authority = { name: "fee-engine", public_key: authorityKey.publicKey, may: ["bill", "seal"], issued_at: "2026-11-25T06:00:00Z" };
  const certBody = encode(authority);
  const cert = { body: certBody, key_id: forger.getPublicKey(), signature: forger.sign(signedMessage("authority", certBody)) };
  const record = decode(block("keydir.record"), PublicKeyRecord);
  const entry = { record: sign("key-record", record, "fee-engine", authorityKey.secretKey), authority: cert };
  const root = new TrustRoot(text("keydir.root"));
  const forgedDir = new KeyDirectory(directoryBus({ "bill.city-water-1": encode(entry) }, []) as never, root);
  await assert.rejects(verifyOffer(forgedDir, offer, "kiosk-01", during), { code: "BAD_SIGNATURE" });
  // The genuine certificate with a record its authority did not sign: refused too.
  const genuine = decode(block("keydir.entry"), DirectoryEntry);
  const swapped = { record: sign("key-record", record, "fee-engine", authorityKey.secretKey), authority: genuine.authority };
  const swappedDir = new KeyDirectory(directoryBus({ "bill.city-water-1": encode(swapped) }, []) as never, root);
  await assert.rejects(verifyOffer(swappedDir, offer, "kiosk-01", during), { code: "BAD_SIGNATURE" });
});

test("a receipt is kept only as the ledger signed it", async () => {
  const root = new TrustRoot(text("keydir.root"));
  const keys = new KeyDirectory(directoryBus({ "authority.ledger": block("receipt.ledger-authority") }, []) as never, root);
  const signed = decode(block("receipt"), Signed);
  const receipt = await keys.verifyReceipt(signed);
  assert.equal(receipt.account, "3-1-1202");
  const tampered = { ...signed, body: signed.body.slice() };
  tampered.body[tampered.body.length - 1] ^= 1;
  await assert.rejects(keys.verifyReceipt(tampered), SignError);
  // Signed by the fee-engine's authority, genuine but not the ledger: refused.
  const byOther = { ...signed, key_id: "fee-engine" };
  await assert.rejects(keys.verifyReceipt(byOther), SignError);
});

/** A bus whose every request is answered with `data` (and `headers`, if given). */
function replying(data: Uint8Array, headers?: Record<string, string>) {
  return {
    options: { inboxPrefix: "_INBOX.device.phdhgg7aa5" },
    request: async () => ({ data, headers: headers && { get: (k: string) => headers[k] ?? "" } }),
  } as never;
}

const register = paygate("register", "device.phdhgg7aa5");
const ask = (answer: unknown) => call(replying(encode(answer)), register, {}, RegisterReply, 1000);
const goodReply = { payer: "p-5e1d0c9b8a7f6e5d4c3b2a19", balance: { fen: 1_000_000, currency: "CNY" } };

test("a reply is read as what was asked for, and a wrong one says which field", async () => {
  assert.deepEqual(await ask(goodReply), goodReply);
  // A newer sender's extra fields are let through; an optional field may be absent or nil.
  const newer = { ...goodReply, balance: { fen: 5 }, tier: "gold" };
  assert.deepEqual(await ask(newer), newer);
  assert.deepEqual(await ask({ ...goodReply, balance: { fen: 5, currency: null } }), { ...goodReply, balance: { fen: 5, currency: null } });
  const refused = (message: string) => ({ code: "INTERNAL", status: 500, message: `undecodable reply from ${register}: ${message}` });
  await assert.rejects(ask({ payer: goodReply.payer }), refused("balance: missing, expected a map"));
  await assert.rejects(ask({ ...goodReply, balance: { fen: "1000000" } }), refused("balance.fen: expected an integer, found a string"));
  await assert.rejects(ask({ ...goodReply, payer: null }), refused("payer: expected a string, found nil"));
  await assert.rejects(ask({ ...goodReply, balance: { fen: 1.5 } }), refused("balance.fen: expected an integer, found the number 1.5"));
  await assert.rejects(ask([goodReply]), refused("the message: expected a map, found a list"));
  await assert.rejects(call(replying(new Uint8Array(0)), register, {}, RegisterReply, 1000), refused("payload is empty"));
  await assert.rejects(call(replying(new Uint8Array([0xc1])), register, {}, RegisterReply, 1000), { code: "INTERNAL", status: 500 });
  // An error in the headers is the error, whatever the body.
  const gone = { "Nats-Service-Error-Code": "410", "Nats-Service-Error": "PAIRING_GONE: the code expired" };
  await assert.rejects(call(replying(new Uint8Array(0), gone), register, {}, RegisterReply, 1000), { code: "PAIRING_GONE", status: 410, message: "the code expired" });
});

test("a wrong item of a list, a wrong bill id and an unknown key state are named", () => {
  const offer = decode(block("pair.offer"), BillOffer);
  const bill = decode(offer.bill.signed.body, Bill);
  const bad = (value: unknown, message: string) => assert.throws(() => decode(encode(value), Bill), { code: "BAD_REQUEST", message });
  bad({ ...bill, lines: [bill.lines[0], { ...bill.lines[0], amount: "12.00" }] }, "lines[1].amount: expected an integer, found a string");
  bad({ ...bill, bill_id: bill.bill_id.subarray(0, 8) }, "bill_id: expected a UUID (16 bytes), found 8 bytes");
  bad({ ...bill, lines: [{ ...bill.lines[0], label_zh: 7 }] }, "lines[0].label_zh: expected a string, found the integer 7");
  const { total: _, ...noTotal } = bill;
  bad(noTotal, "total: missing, expected a map");
  assert.throws(() => decode(encode({ ...offer, bill: { ...offer.bill, signed: null } }), BillOffer), { message: "bill.signed: expected a map, found nil" });
  const status = { nkey: "UABC", state: "active", holder: null, stamp_bits: 16, message: "in use" };
  assert.deepEqual(decode(encode(status), KeyStatus), status);
  assert.throws(() => decode(encode({ ...status, state: "lost" }), KeyStatus), {
    message: 'state: expected "active" or "revoked" or "unenrolled" or "conflict", found a string',
  });
  assert.throws(() => decode(encode({ ...status, holder: { kind: "device" } }), KeyStatus), { message: "holder.id: missing, expected a string" });
});

test("an error a reply carries is read as the Rust side reads it", () => {
  const error = (status: string, text: string) =>
    errorFromHeaders({ headers: { get: (k: string) => (k === "Nats-Service-Error-Code" ? status : text) } } as never);
  const read = (e: WireError | undefined) => [e?.code, e?.status, e?.message];
  assert.deepEqual(read(error("409", "IDEMPOTENCY_CONFLICT: already registered")), ["IDEMPOTENCY_CONFLICT", 409, "already registered"]);
  // Not a code: the nearest code by status, and the whole text.
  assert.deepEqual(read(error("403", "no such thing: here")), ["FORBIDDEN", 403, "no such thing: here"]);
  assert.deepEqual(read(error("500", "it broke")), ["INTERNAL", 500, "it broke"]);
  // Not an error status: 500, so the phone never forgets what it sent because of it.
  for (const status of ["", "200", "abc", "4000"]) assert.equal(error(status, "BAD_REQUEST: x")?.status, 500, status);
  assert.equal(errorFromHeaders({ headers: { get: () => "" } } as never), undefined);
});

test("the subjects the phone uses are the contract's channels (schemas/asyncapi.yaml)", () => {
  const addresses = new Set([...fs.readFileSync(path.join(repoRoot(), "schemas/asyncapi.yaml"), "utf8").matchAll(/address: (\S+)/g)].map((m) => m[1]));
  for (const subject of [
    pair("{terminal}", "{token}"),
    wallet("{device}", "{token}"),
    paygate("register", "{asker}"),
    paygate("amend", "{asker}"),
    paygate("pay", "{asker}"),
    keysGet("{asker}"),
    identityEnrol("{device}"),
    identityStatus("{nkey}"),
  ]) {
    assert.ok(addresses.has(subject), subject);
  }
  assert.equal(asker(replying(new Uint8Array(0))), "device.phdhgg7aa5");
  assert.throws(() => asker({ options: { inboxPrefix: "_INBOX" } } as never), { code: "INTERNAL" });
  assert.equal(statusReply("UABC", "00ff"), "_INBOX.key.UABC.00ff");
  assert.equal(keysGet(asker(replying(new Uint8Array(0)))), "posfee.keys.get.device.phdhgg7aa5");
});

test("a phone answers only on a kiosk's pairing subject (contract section 1)", () => {
  const token = "00112233445566778899aabbccddeeff";
  assert.equal(kioskAsking(`posfee.pair.kiosk-01.${token}`), "kiosk-01");
  for (const bad of [
    undefined,
    "",
    `_INBOX.terminal.kiosk-01.${token}`,
    "posfee.ledger.settle",
    "$KV.POSFEE_KEYS.bill.x",
    `posfee.wallet.phabcd2345.${token}`,
    "posfee.pair.kiosk-01.*",
    "posfee.pair.kiosk-01.>",
    `posfee.pair.kiosk-01.${token}.x`,
  ]) {
    assert.equal(kioskAsking(bad), null, String(bad));
  }
});

test("a new key's stamp is the contract's (section 1)", () => {
  const lines = Object.fromEntries(
    text("stamp")
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]),
  );
  const n = Number.parseInt(lines.stamp, 10);
  assert.equal(stampBits(lines.key, n), Number.parseInt(lines.bits, 10));
  assert.equal(findStamp(lines.key, 16), n);
  assert.ok(stampBits(lines.key, n - 1) < 16 || findStamp(lines.key, 16) < n);
  assert.equal(stampNeeded("stamp: needs at least 19 leading zero bits (this one has 16); compute"), 19);
  assert.equal(stampNeeded("something else"), undefined);
});

test("amounts keep their unit, periods read as words, times are the payer's zone's, named", () => {
  setLanguage("en");
  assert.equal(money(105271), "1052.71 CNY");
  assert.equal(money(-5), "-0.05 CNY");
  assert.equal(periodText("2026-10"), "2026-10");
  assert.equal(periodText("2026-08..2026-12"), "2026-08 to 2026-12");
  assert.deepEqual(localTimeParts("2026-12-06T17:26:32.221914269Z", "Asia/Shanghai"), { time: "2026-12-07 01:26:32", zone: "China Standard Time" });
  assert.equal(localTime("2026-12-06T17:26:32Z", "UTC"), "2026-12-06 17:26:32 (Coordinated Universal Time)");
  assert.deepEqual(localTimeParts("not a time"), { time: "not a time", zone: "" });
  setLanguage("zh-CN");
  assert.equal(money(105271), "1052.71 元");
  assert.equal(periodText("2026-08..2026-12"), "2026-08 至 2026-12");
  assert.deepEqual(localTimeParts("2026-11-25T02:00:00+00:00", "Asia/Shanghai"), { time: "2026-11-25 10:00:00", zone: "中国标准时间" });
  setLanguage("en");
});

test("a mistyped code and a code of the other kind are told apart", () => {
  assert.throws(() => parseCode("kiosk-01:0024-H36H-2NCS-VRH6-DAQF-6DVV-QZR7", "terminal_presents"), BadCheck);
  assert.throws(() => parseCode("phdhgg7aa5:50P7-1D7S-7NMT-VWHP-F0Y6-HB7H-6N2W", "terminal_presents"), WrongMode);
  assert.throws(() => parseCode("posfee://wallet/phdhgg7aa5/a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5", "terminal_presents"), WrongMode);
});

test("the kiosk's trace is taken up from a valid traceparent only (W3C trace context)", () => {
  const id = "4bf92f3577b34da6a3ce929d0e0e4736";
  assert.deepEqual(traceOf(`00-${id}-00f067aa0ba902b7-01`), { id, flags: "01" });
  for (const bad of [
    "",
    `00-${"0".repeat(32)}-00f067aa0ba902b7-01`,
    `00-${id}-${"0".repeat(16)}-01`,
    `00-${id.toUpperCase()}-00f067aa0ba902b7-01`,
    `00-${id}-00f067aa0ba902b7`,
    `ff-${id}-00f067aa0ba902b7-01`,
  ]) {
    assert.equal(traceOf(bad), undefined, bad);
  }
  const msg = { headers: { get: (name: string) => (name === "traceparent" ? `00-${id}-00f067aa0ba902b7-01` : "") } };
  adoptTrace(msg as never);
  assert.equal(currentTrace(), id);
});

/** A bus whose first request is taken by an instance that dies holding it (no answer before
 * the timeout) and whose later ones another instance answers with `data`. */
function firstLost(data: Uint8Array, sent: number[]) {
  return {
    options: { inboxPrefix: "_INBOX.device.phdhgg7aa5" },
    request: (_s: string, _d: Uint8Array, opts: { timeout: number }) => {
      sent.push(Date.now());
      if (sent.length > 1) return Promise.resolve({ data, headers: undefined });
      return new Promise((_, reject) => setTimeout(() => reject(new TimeoutError()), opts.timeout));
    },
  } as never;
}

test("a payment request lost with its instance is sent again and answered; a plain call waits out its timeout", async () => {
  const sent: number[] = [];
  const started = Date.now();
  assert.deepEqual(await callResending(firstLost(encode(goodReply), sent), register, {}, RegisterReply, 3000), goodReply);
  assert.equal(sent.length, 2);
  assert.ok(sent[1] - started >= RESEND_AFTER_MS - 5 && Date.now() - started < 2500, `answered after ${Date.now() - started} ms`);
  const once: number[] = [];
  await assert.rejects(call(firstLost(encode(goodReply), once), register, {}, RegisterReply, 1500), TimedOut);
  assert.equal(once.length, 1);
});
