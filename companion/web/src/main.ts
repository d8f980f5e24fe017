// The payer's phone: screens and what happens on them. The wire work is in enrol.ts,
// register.ts, pay.ts and verify.ts; this file only shows and asks.
import "./style.css";
import { connectPhone, identity, keyStatus, KeyRefused, newKey, NotEnrolled, type Bus } from "./enrol.ts";
import { codeMessage, fieldMessage, lang, localTimeParts, money, pickLanguage, reasonText, setLanguage, t, type Lang } from "./i18n.ts";
import { BadCheck, CodeError, link, parseCode, typed, WrongMode } from "./ids.ts";
import * as pay from "./pay.ts";
import { decodeFile, drawCode, scanCamera } from "./qr.ts";
import { amend, checkBankAccount, checkName, checkNationalId, register } from "./register.ts";
import { lineText, shareImage } from "./share.ts";
import * as store from "./store.ts";
import type { Bill, BillLine, Receipt } from "./types.ts";
import { billsOf, KeyDirectory, totalOf, TrustRoot } from "./verify.ts";
import { uuidText, wireError, WireError } from "./wire.ts";

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | undefined | ((e: Event) => void)>;
function h(tag: string, attrs: Attrs = {}, ...kids: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else if (v !== false && v !== undefined) el.setAttribute(k, v);
  }
  for (const c of kids) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

type Screen = "pay" | "code" | "receipts" | "me";
let phone: pay.Phone | undefined;
let busState: "connecting" | "connected" | "offline" = "connecting";
/** Why the phone is not connected, in the language of the moment. */
let busWhy = () => "";
/** The system refuses this phone's key for good (revoked, its id taken): a new key is the way on. */
let keyRefused: "revoked" | "conflict" | null = null;
/** While the phone cannot connect (not enrolled yet, the system away), it tries again in the background. */
const RETRY_MS = 5_000;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let screen: Screen = "pay";
let cleanup: (() => void)[] = [];

const root = document.getElementById("app") as HTMLElement;

function runCleanup(): void {
  for (const f of cleanup.splice(0)) f();
}

/** What the phone says about an error: the payer's words, the system's code and its own message. */
interface Said {
  code: string;
  text: string;
  detail?: string;
}

/** An error in the payer's words, with the code and message as the system said them. */
function errorText(e: unknown): Said {
  if (e instanceof WireError) {
    if (e.code === "INVALID_FIELD") {
      const i = e.message.indexOf(": ");
      const field = i > 0 ? e.message.slice(0, i) : "";
      return { code: e.code, text: fieldMessage(field, e.message), detail: e.message };
    }
    return { code: e.code, text: codeMessage(e.code) ?? t("failed"), detail: e.message };
  }
  return { code: "INTERNAL", text: t("failed"), detail: String((e as Error)?.message ?? e) };
}

/** A code the payer typed or scanned that is not a kiosk's code, in the payer's words. */
function codeErrorText(e: unknown): Said {
  const text = e instanceof BadCheck ? t("code_mistyped") : e instanceof WrongMode ? t("code_wallet") : t("code_invalid");
  return { code: "INVALID_FIELD", text, detail: String((e as Error)?.message ?? e) };
}

/** The system's code, small; its own message (English) only when the payer reads English. */
function codeNote(m: Said): HTMLElement {
  return h("span", { class: "code" }, lang() === "en" && m.detail ? ` (${m.code}: ${m.detail})` : ` (${m.code})`);
}

/** A failure in the payer's words, in the error style, the code small under it. */
function errorBox(m: Said, frame?: "refused_why"): HTMLElement {
  return h("p", { class: "error" }, frame ? t(frame, { why: m.text }) : m.text, codeNote(m));
}

/** An amount with its unit, never broken across lines. */
function amountEl(fen: number, tag = "span", attrs: Attrs = {}): HTMLElement {
  return h(tag, { ...attrs, class: "amount" }, money(fen));
}

/** `key`'s text with the amount in its place (`{total}`) kept whole. */
function withAmount(key: "confirm", fen: number): HTMLElement {
  const [before, after] = t(key, { total: "\u0000" }).split("\u0000");
  return h("span", {}, before, amountEl(fen), after);
}

/** An instant in the payer's time zone, its time on one line and the zone named after it. */
function timeEl(rfc3339: string, testid?: string): HTMLElement {
  const { time, zone } = localTimeParts(rfc3339);
  return h(
    "span",
    { "data-testid": testid, "data-instant": rfc3339 },
    h("span", { class: "time" }, time),
    zone ? " " : null,
    zone ? h("span", { class: "zone" }, zone) : null,
  );
}

/** A bill line: what it is for and its period, its amount, and its own explanation. */
function lineEl(l: BillLine): HTMLElement {
  const x = lineText(l);
  return h(
    "li",
    { class: "line", "data-testid": "line" },
    h("div", { class: "line-head" }, h("span", {}, `${x.label} · `, h("span", { class: "period" }, x.period)), h("strong", { class: "amount" }, x.amount)),
    h("div", { class: "note explanation" }, x.explanation),
  );
}

/** The connection's state in the header. */
function busBadge(): HTMLElement {
  const text = busState === "connected" ? t("connected") : busState === "connecting" ? t("connecting") : t("offline");
  return h("span", { class: `bus ${busState}`, role: "status", "data-testid": "bus-state" }, text);
}

/** Why the phone is not connected and what to do, or nothing while it is. */
function busBanner(): HTMLElement {
  const slot = h("div", { "data-testid": "bus-banner" });
  if (busState !== "offline") return slot;
  if (keyRefused) {
    const newKeyBtn = h(
      "button",
      {
        class: "primary",
        "data-testid": "new-key",
        onclick: async () => {
          await newKey();
          keyRefused = null;
          void start();
        },
      },
      t("new_key"),
    );
    slot.append(h("div", { class: "banner", role: "alert" }, h("strong", {}, t(keyRefused === "revoked" ? "key_revoked_title" : "key_conflict_title")), h("p", {}, busWhy()), newKeyBtn));
    return slot;
  }
  // While the client connects again by itself there is nothing to tap.
  const retry = phone ? null : h("button", { class: "link", onclick: () => void start() }, t("retry"));
  slot.append(h("p", { class: "banner", role: "alert" }, `${t("offline_why", { why: busWhy() })} `, retry));
  return slot;
}

/** Shows the connection's state again without drawing the screen again (a bill stays). */
function showBus(): void {
  document.querySelector('[data-testid="bus-state"]')?.replaceWith(busBadge());
  document.querySelector('[data-testid="bus-banner"]')?.replaceWith(busBanner());
}

function frame(title: string, ...body: Child[]): void {
  runCleanup();
  const heading = h("h1", { tabindex: "-1", id: "screen-title" }, title);
  const tabs: [Screen, string][] = [
    ["pay", t("nav_pay")],
    ["code", t("nav_code")],
    ["receipts", t("nav_receipts")],
    ["me", t("nav_me")],
  ];
  const other: Lang = lang() === "en" ? "zh-CN" : "en";
  root.replaceChildren(
    h(
      "header",
      {},
      h("span", { class: "brand" }, t("app_title")),
      busBadge(),
      h(
        "button",
        {
          class: "lang",
          lang: other,
          "aria-label": t("lang_switch_label"),
          "data-testid": "lang",
          onclick: async () => {
            setLanguage(other);
            // A screen in the middle of something (a bill to confirm) is drawn again as it is;
            // any other starts again in the new language.
            if (redraw) redraw();
            else go(screen);
            await store.saveLanguage(other);
          },
        },
        t("lang_switch"),
      ),
    ),
    h(
      "nav",
      { "aria-label": t("nav") },
      ...tabs.map(([s, label]) =>
        h("button", { "aria-current": s === screen ? "page" : false, "data-testid": `nav-${s}`, onclick: () => go(s) }, label),
      ),
    ),
    h(
      "main",
      {},
      heading,
      busBanner(),
      ...body,
    ),
  );
  heading.focus();
}

/** Draws the current screen again, state and all, when it must not start over (a bill the
 * payer is deciding on: starting over would throw the bill and its pairing away). */
let redraw: (() => void) | null = null;

function go(s: Screen): void {
  redraw = null;
  screen = s;
  if (s === "pay") void payScreen();
  else if (s === "code") codeScreen();
  else if (s === "receipts") void receiptsScreen();
  else void meScreen();
}

// ---- registration and this phone ----------------------------------------------------------

/** A form field with its check: shown when the payer leaves the field, cleared as soon as the
 * value is right, so tapping the button never moves it out from under the finger. */
function field(name: string, label: string, check: (v: string) => WireError | undefined, attrs: Record<string, string>, status: HTMLElement) {
  const input = h("input", { id: `f-${name}`, name, "aria-describedby": `e-${name}`, required: true, ...attrs }) as HTMLInputElement;
  const err = h("p", { id: `e-${name}`, class: "field-error", "aria-live": "polite" });
  const show = (e: WireError | undefined) => {
    err.textContent = e ? fieldMessage(name, e.message) : "";
    input.setAttribute("aria-invalid", e ? "true" : "false");
  };
  input.addEventListener("input", () => {
    // A refusal of the earlier values is stale once the payer corrects them.
    status.replaceChildren();
    if (err.textContent && !check(input.value)) show(undefined);
  });
  input.addEventListener("blur", (ev) => {
    // Leaving for the form's own button: the button checks everything itself.
    const to = (ev as FocusEvent).relatedTarget;
    if (to instanceof HTMLButtonElement && to.type === "submit" && to.form === input.form) return;
    show(input.value ? check(input.value) : undefined);
  });
  return { input, err, show, el: h("div", { class: "field" }, h("label", { for: `f-${name}` }, label), input, err) };
}
type Field = ReturnType<typeof field>;

/** Checks `fields` on the phone, showing each one's error; the first wrong one, if any. */
function checkAll(fields: [Field, (v: string) => WireError | undefined][]): HTMLInputElement | undefined {
  let first: HTMLInputElement | undefined;
  for (const [f, check] of fields) {
    const e = check(f.input.value);
    f.show(e);
    if (e && !first) first = f.input;
  }
  return first;
}

/** After a refusal naming a field, that field is marked and focused. */
function markRefused(e: unknown, fields: Record<string, Field>): void {
  const name = e instanceof WireError && e.code === "INVALID_FIELD" ? e.message.split(":")[0] : "";
  const target = fields[name]?.input;
  if (!target) return;
  target.setAttribute("aria-invalid", "true");
  target.focus();
}

async function meScreen(note?: string): Promise<void> {
  const p = await store.profile();
  const id = await identity();
  const device = h(
    "section",
    { "aria-labelledby": "device-h" },
    h("h2", { id: "device-h" }, t("device_title")),
    h("dl", {}, h("dt", {}, t("device_id")), h("dd", { "data-testid": "device-id" }, id.device)),
    h("dl", {}, h("dt", {}, t("public_key")), h("dd", { class: "mono", "data-testid": "public-key" }, id.publicKey)),
    h("p", { class: "note" }, t("device_note")),
  );
  if (p?.payer) {
    const done = note ? h("p", { class: "done", role: "status", "data-testid": "me-status" }, note) : null;
    const edit = h("button", { class: "secondary", "data-testid": "edit", onclick: () => amendScreen(p) }, t("edit"));
    frame(t("nav_me"), done, await balanceCard(p.payer), h("div", { class: "stack" }, edit), device);
    return;
  }
  const status = h("div", { role: "alert", "data-testid": "register-status" });
  const name = nameField(p?.name ?? "", status);
  const nid = field("national_id", t("national_id"), checkNationalId, { autocomplete: "off", inputmode: "text", maxlength: "18", value: p?.national_id ?? "" }, status);
  const card = cardField(p?.bank_account ?? "", status);
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "register" }, t("register_send")) as HTMLButtonElement;
  const form = h(
    "form",
    {
      novalidate: true,
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        status.replaceChildren();
        const skipChecks = localStorage.getItem("posfeeSkipChecks") === "1";
        const first = checkAll([
          [name, checkName],
          [nid, checkNationalId],
          [card, checkBankAccount],
        ]);
        if (first && !skipChecks) {
          first.focus();
          return;
        }
        if (!phone) {
          status.replaceChildren(h("p", { class: "error" }, t("offline_why", { why: busWhy() })));
          return;
        }
        submit.disabled = true;
        submit.textContent = t("registering");
        try {
          await register(phone.nc, { name: name.input.value, national_id: nid.input.value, bank_account: card.input.value }, !skipChecks);
          go("me");
        } catch (e) {
          submit.disabled = false;
          submit.textContent = t("register_send");
          // The payer's words first, then paygate's code, small.
          status.replaceChildren(errorBox(errorText(e), "refused_why"));
          markRefused(e, { name, national_id: nid, bank_account: card });
        }
      },
    },
    name.el,
    nid.el,
    card.el,
    status,
    submit,
  );
  frame(t("register_title"), h("p", {}, t("register_intro")), form, device);
}

/** A national id as the payer may see it on the screen: its first and last digits. */
function maskedId(id: string): string {
  return id.length > 7 ? `${id.slice(0, 3)}${"*".repeat(id.length - 7)}${id.slice(-4)}` : id;
}

/** The name field of registering and of correcting a registration. */
function nameField(value: string, status: HTMLElement) {
  return field("name", t("name"), checkName, { autocomplete: "name", value }, status);
}

/** The bank card field of registering and of correcting a registration. */
function cardField(value: string, status: HTMLElement) {
  return field("bank_account", t("bank_account"), checkBankAccount, { autocomplete: "cc-number", inputmode: "numeric", maxlength: "19", value }, status);
}

/** Correcting the name or bank card paygate holds; the national id is shown, not offered. */
function amendScreen(p: store.Profile): void {
  const status = h("div", { role: "alert", "data-testid": "amend-status" });
  const name = nameField(p.name, status);
  const card = cardField(p.bank_account, status);
  const save = h("button", { type: "submit", class: "primary", "data-testid": "amend-save" }, t("save")) as HTMLButtonElement;
  const form = h(
    "form",
    {
      novalidate: true,
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        status.replaceChildren();
        const first = checkAll([
          [name, checkName],
          [card, checkBankAccount],
        ]);
        if (first) return first.focus();
        if (!phone) return void status.replaceChildren(h("p", { class: "error" }, t("offline_why", { why: busWhy() })));
        save.disabled = true;
        save.textContent = t("saving");
        try {
          const changed = await amend(phone.nc, { name: name.input.value, bank_account: card.input.value });
          const fields = changed.map((f) => (f === "name" ? t("name") : f === "bank_account" ? t("bank_account") : f));
          await meScreen(fields.length ? t("amend_done", { fields: fields.join(lang() === "en" ? ", " : "、") }) : t("amend_same"));
        } catch (e) {
          save.disabled = false;
          save.textContent = t("save");
          const m = errorText(e);
          status.replaceChildren(errorBox(m, "refused_why"));
          markRefused(e, { name, bank_account: card });
        }
      },
    },
    name.el,
    h(
      "div",
      { class: "field" },
      h("span", { class: "label" }, t("national_id")),
      h("p", { class: "readonly mono", "data-testid": "national-id" }, maskedId(p.national_id)),
      h("p", { class: "note" }, t("national_id_fixed")),
    ),
    card.el,
    status,
    h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => go("me") }, t("cancel")), save),
  );
  frame(t("amend_title"), h("p", {}, t("amend_intro")), form);
}

async function balanceCard(payer: string): Promise<HTMLElement> {
  const p = await store.profile();
  const paid = (await store.receipts()).reduce((s, r) => s + r.total.fen, 0);
  const balance = (p?.balance?.fen ?? 0) - paid;
  return h(
    "section",
    { class: "card", "aria-labelledby": "bal-h" },
    h("h2", { id: "bal-h" }, t("registered_as")),
    h("dl", {}, h("dt", {}, t("name")), h("dd", { "data-testid": "name" }, p?.name ?? "")),
    h("dl", {}, h("dt", {}, t("bank_account")), h("dd", { class: "mono" }, `•••• ${(p?.bank_account ?? "").slice(-4)}`)),
    h("dl", {}, h("dt", {}, t("payer")), h("dd", { class: "mono" }, payer)),
    h("div", { class: "balance" }, h("span", {}, t("balance")), amountEl(balance, "strong", { "data-testid": "balance" })),
    h("p", { class: "note" }, t("balance_note")),
  );
}

// ---- mode A ---------------------------------------------------------------------------------

async function payScreen(message?: Said): Promise<void> {
  const p = await store.profile();
  const status = h("div", { role: "alert", "data-testid": "pay-status" });
  const say = (m: Said) => status.replaceChildren(errorBox(m));
  if (message) say(message);
  const input = h("input", {
    id: "typed",
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: "false",
    "aria-describedby": "typed-hint",
    "data-testid": "typed-code",
  }) as HTMLInputElement;
  const video = h("video", { class: "camera", hidden: true, muted: true, "aria-label": t("camera_hint") }) as HTMLVideoElement;
  const scanBtn = h("button", { type: "button", class: "primary", "data-testid": "scan" }, t("scan")) as HTMLButtonElement;
  let stopCamera: (() => void) | undefined;
  cleanup.push(() => stopCamera?.());
  scanBtn.addEventListener("click", async () => {
    if (stopCamera) {
      stopCamera();
      stopCamera = undefined;
      video.hidden = true;
      scanBtn.textContent = t("scan");
      return;
    }
    try {
      video.hidden = false;
      scanBtn.textContent = t("stop_scan");
      stopCamera = await scanCamera(video, (text) => {
        stopCamera = undefined;
        video.hidden = true;
        void useCode(text);
      });
    } catch {
      video.hidden = true;
      scanBtn.textContent = t("scan");
      say({ code: "NO_CAMERA", text: t("no_camera") });
    }
  });
  const photo = h("input", { type: "file", accept: "image/*", id: "photo", class: "visually-hidden", "data-testid": "photo" }) as HTMLInputElement;
  photo.addEventListener("change", async () => {
    const f = photo.files?.[0];
    if (!f) return;
    const text = await decodeFile(f).catch(() => undefined);
    photo.value = "";
    if (!text) return say({ code: "NO_QR", text: t("no_qr") });
    await useCode(text);
  });
  const useCode = async (text: string) => {
    if (!p?.payer) return say({ code: "PAYER_NOT_FOUND", text: t("not_registered") });
    let code;
    try {
      code = parseCode(text, "terminal_presents");
    } catch (e) {
      return say(e instanceof CodeError ? codeErrorText(e) : errorText(e));
    }
    if (!phone) return say({ code: "UNAVAILABLE", text: t("offline_text") });
    status.replaceChildren(h("p", { class: "progress" }, t("joining")));
    try {
      const s = await pay.join(phone, code);
      confirmScreen(s);
    } catch (e) {
      say(errorText(e));
    }
  };
  frame(
    t("pay_title"),
    p?.payer ? null : h("p", { class: "banner" }, t("not_registered")),
    h(
      "div",
      { class: "stack" },
      scanBtn,
      video,
      h(
        "label",
        {
          for: "photo",
          class: "button secondary",
          tabindex: "0",
          role: "button",
          onkeydown: (ev: Event) => {
            const k = (ev as KeyboardEvent).key;
            if (k === "Enter" || k === " ") {
              ev.preventDefault();
              photo.click();
            }
          },
        },
        t("scan_photo"),
      ),
      photo,
    ),
    h(
      "form",
      {
        onsubmit: (ev: Event) => {
          ev.preventDefault();
          void useCode(input.value);
        },
      },
      h("div", { class: "field" }, h("label", { for: "typed" }, t("typed_code")), input, h("p", { id: "typed-hint", class: "note" }, t("typed_hint"))),
      h("button", { type: "submit", class: "primary", "data-testid": "join" }, t("join")),
    ),
    status,
    await unconfirmedNote(),
  );
}

async function unconfirmedNote(): Promise<HTMLElement | null> {
  const open = (await store.pendingAll()).filter((p) => p.request).length;
  if (!open) return null;
  return h(
    "p",
    { class: "banner" },
    t("unconfirmed", { n: open }),
    " ",
    h(
      "button",
      {
        class: "link",
        onclick: async () => {
          if (phone) await pay.resolvePending(phone);
          go(screen);
        },
      },
      t("check_again"),
    ),
  );
}

// ---- mode B ---------------------------------------------------------------------------------

function codeScreen(): void {
  const start = h("button", { class: "primary", "data-testid": "show-code", onclick: () => void showCode() }, t("show_code"));
  frame(t("code_title"), h("p", {}, t("code_intro")), start);
}

/** How long a wallet code is shown: the contract's, or shorter where a test asks for it. */
function walletTtl(): number {
  return Number(localStorage.getItem("posfeeWalletTtlMs")) || pay.WALLET_TTL_MS;
}

async function showCode(): Promise<void> {
  const p = await store.profile();
  if (!p?.payer) return void payScreen({ code: "PAYER_NOT_FOUND", text: t("not_registered") });
  if (!phone) return void payScreen({ code: "UNAVAILABLE", text: t("offline_text") });
  screen = "code";
  const shown = await pay.show(phone, walletTtl());
  const canvas = h("canvas", { role: "img", "aria-label": typed(shown.code), "data-testid": "wallet-qr" }) as HTMLCanvasElement;
  await drawCode(canvas, link(shown.code));
  const countdown = h("p", { class: "countdown", "aria-live": "off", "data-testid": "countdown" });
  const tick = () => {
    const s = Math.max(0, Math.round((shown.expiresAt.getTime() - Date.now()) / 1000));
    countdown.textContent = t("expires_in", { s });
  };
  tick();
  const timer = setInterval(tick, 1000);
  let cancel!: () => void;
  let cancelledByPayer = false;
  const cancelled = new Promise<void>((r) => (cancel = r));
  frame(
    t("code_title"),
    h("div", { class: "qr" }, canvas),
    typedCode(typed(shown.code)),
    countdown,
    h("p", { class: "progress", role: "status" }, t("waiting_offer")),
    h(
      "button",
      {
        class: "secondary",
        onclick: () => {
          cancelledByPayer = true;
          cancel();
          codeScreen();
        },
      },
      t("cancel"),
    ),
  );
  cleanup.push(
    () => clearInterval(timer),
    () => {
      // Leaving the screen stops the code quietly.
      cancelledByPayer = true;
      cancel();
    },
  );
  try {
    const s = await pay.waitOffer(shown, cancelled);
    clearInterval(timer);
    confirmScreen(s);
  } catch (e) {
    clearInterval(timer);
    // Expired (cancelled on the phone says nothing): a new code is one tap away.
    if (screen === "code" && !cancelledByPayer) outcome("expired");
  }
}

/** A typed code: the phone's id on one line, its groups on the next, never broken. */
function typedCode(code: string): HTMLElement {
  const [id, groups] = code.split(":");
  return h(
    "p",
    { class: "typed mono", "data-testid": "wallet-typed", "data-code": code },
    h("span", {}, `${id}:`),
    h("br"),
    h("span", { class: "groups" }, groups),
  );
}

// ---- confirm and outcome ---------------------------------------------------------------------

function confirmScreen(s: pay.Session): void {
  screen = "pay";
  const state = { decided: false };
  void s.channel.ended.then((n) => {
    if (state.decided) return;
    state.decided = true;
    s.channel.close();
    const e = pay.endedError(n);
    outcome("ended", { code: e.code, text: t("ended_text", { reason: reasonText(n.reason) }), detail: e.message });
  });
  redraw = () => drawConfirm(s, state);
  redraw();
}

/** The confirm screen for `s` in the current language; `state` outlives a redraw. */
function drawConfirm(s: pay.Session, state: { decided: boolean }): void {
  const bills = billsOf(s.verified);
  const total = totalOf(s.verified);
  const payBtn = h("button", { class: "primary", "data-testid": "confirm" }, state.decided ? t("paying") : withAmount("confirm", total)) as HTMLButtonElement;
  const declineBtn = h("button", { class: "secondary", "data-testid": "decline" }, t("decline")) as HTMLButtonElement;
  payBtn.disabled = declineBtn.disabled = state.decided;
  payBtn.addEventListener("click", async () => {
    if (state.decided || !phone) return;
    state.decided = true;
    payBtn.disabled = declineBtn.disabled = true;
    payBtn.textContent = t("paying");
    try {
      const r = await pay.confirmAndPay(phone, s);
      outcome("paid", undefined, r);
    } catch (e) {
      const m = errorText(e);
      outcome(e instanceof WireError && e.code === "OUTCOME_UNKNOWN" ? "unknown" : "not_paid", m);
    }
  });
  declineBtn.addEventListener("click", async () => {
    if (state.decided || !phone) return;
    state.decided = true;
    payBtn.disabled = declineBtn.disabled = true;
    await pay.decline(phone, s);
    outcome("declined");
  });
  const issued = [s.verified.issued, ...s.verified.more.map((m) => m.issued)];
  const n = bills.length;
  const cards = bills.map((b, i) => billCard(b, issued[i].signed.key_id, n > 1 ? t("basket_bill", { i: String(i + 1), n: String(n) }) : null));
  const basket =
    n > 1
      ? [
          h("p", { class: "basket-note", "data-testid": "basket" }, h("strong", {}, t("basket_title", { n: String(n) })), " ", t("basket_note")),
          ...cards,
          h(
            "section",
            { class: "card basket-total" },
            h("dl", { class: "total" }, h("dt", {}, t("basket_total", { n: String(n) })), h("dd", {}, amountEl(total, "span", { "data-testid": "basket-total" }))),
          ),
        ]
      : cards;
  frame(t("confirm_title"), ...basket, h("div", { class: "actions decide" }, declineBtn, payBtn));
}

/** One signed bill as the payer checks it: payee, account, lines, total, expiry, who signed. */
function billCard(b: Bill, keyId: string, heading: string | null): HTMLElement {
  const zh = lang() === "zh-CN";
  return h(
    "section",
    { class: "card bill", "aria-label": heading ?? t("confirm_title"), "data-testid": "bill" },
    heading ? h("h2", { class: "bill-of" }, heading) : null,
    h("dl", {}, h("dt", {}, t("payee")), h("dd", { "data-testid": "payee" }, (zh && b.tenant_name_zh) || b.tenant_name)),
    h("dl", {}, h("dt", {}, t("account")), h("dd", { "data-testid": "account" }, b.account)),
    b.holder_masked ? h("dl", {}, h("dt", {}, t("holder")), h("dd", {}, b.holder_masked)) : null,
    (zh ? b.class_zh : b.class) ? h("dl", {}, h("dt", {}, t("class")), h("dd", {}, (zh ? b.class_zh : b.class) ?? "")) : null,
    h("dl", {}, h("dt", {}, t("terminal")), h("dd", {}, b.terminal)),
    h("ul", { class: "lines" }, ...b.lines.map(lineEl)),
    h("dl", { class: "total" }, h("dt", {}, t("total")), h("dd", {}, amountEl(b.total.fen, "span", { "data-testid": "total" }))),
    h("dl", {}, h("dt", {}, t("expires_at")), h("dd", {}, timeEl(b.expires_at, "expires-at"))),
    h(
      "p",
      { class: "verified", "data-testid": "verified" },
      h("span", { "aria-hidden": "true" }, "✔ "),
      t("verified"),
      h("span", { class: "note" }, ` — ${t("verified_detail", { tenant: b.tenant, key: keyId })}`),
    ),
  );
}

type Outcome = "paid" | "declined" | "not_paid" | "unknown" | "ended" | "expired";

/** The endings a payment normally has besides paying: said plainly, not as failures. */
const NORMAL_ENDINGS: Outcome[] = ["declined", "ended", "expired"];

function outcome(kind: Outcome, m?: Said, r?: Receipt[]): void {
  redraw = null;
  const title = { paid: t("paid_title"), declined: t("declined_title"), not_paid: t("not_paid_title"), unknown: t("unknown_title"), ended: t("ended_title"), expired: t("expired_title") }[kind];
  const normal = NORMAL_ENDINGS.includes(kind);
  const text = kind === "declined" ? t("declined_text") : kind === "expired" ? t("expired_text") : (m?.text ?? "");
  const body = r ? receiptCards(r) : normal ? h("p", { class: "outcome-text" }, text) : errorBox(m ?? { code: "INTERNAL", text: t("failed") });
  const again = h("button", { class: "primary", "data-testid": "new-code", onclick: () => void showCode() }, t("new_code"));
  const done = h("button", { class: kind === "expired" ? "secondary" : "primary", "data-testid": "done", onclick: () => go("pay") }, t("done"));
  frame(
    title,
    h("div", { class: `outcome ${kind} ${normal ? "neutral" : ""}`, role: "status", "data-testid": "outcome", "data-outcome": kind }, body),
    kind === "expired" ? h("div", { class: "stack" }, again, done) : done,
  );
}

/** A payment's receipts: one, or a basket's with their total. */
function receiptCards(rs: Receipt[]): HTMLElement {
  if (rs.length === 1) return receiptCard(rs[0]);
  const total = rs.reduce((sum, r) => sum + r.total.fen, 0);
  return h(
    "div",
    { class: "stack" },
    h("p", { class: "basket-note", "data-testid": "basket-paid" }, h("strong", {}, t("basket_paid", { n: String(rs.length) })), " ", amountEl(total)),
    ...rs.map((r) => receiptCard(r, false)),
  );
}

function receiptCard(r: Receipt, open = true): HTMLElement {
  const zh = lang() === "zh-CN";
  const row = (k: string, v: Child, cls = "") => h("dl", { class: cls }, h("dt", {}, k), h("dd", {}, v));
  const lines = h("ul", { class: "lines" }, ...r.lines.map(lineEl));
  const details = [row(t("terminal"), r.terminal), lines, row(t("payment_id"), h("span", { class: "mono" }, uuidText(r.payment_id)))];
  return h(
    "article",
    { class: "card receipt", "data-testid": "receipt", "aria-label": `${t("receipt")} ${(zh && r.tenant_name_zh) || r.tenant_name} ${money(r.total.fen)}` },
    h("h2", {}, h("span", { "aria-hidden": "true" }, "✔ "), (zh && r.tenant_name_zh) || r.tenant_name),
    row(t("account"), r.account),
    row(t("total"), amountEl(r.total.fen), "total"),
    row(t("settled_at"), timeEl(r.settled_at, "settled-at")),
    open ? h("div", {}, ...details) : h("details", {}, h("summary", {}, t("details")), ...details),
    h(
      "div",
      { class: "actions" },
      h("button", { class: "secondary", "data-testid": "share-image", onclick: () => void shareImage(r) }, t("share_image")),
      h(
        "button",
        {
          class: "secondary",
          onclick: (ev: Event) => {
            const card = (ev.target as HTMLElement).closest("article");
            card?.classList.add("printing");
            document.body.classList.add("has-printing");
            card?.querySelector("details")?.setAttribute("open", "");
            window.print();
            document.body.classList.remove("has-printing");
            card?.classList.remove("printing");
          },
        },
        t("share_pdf"),
      ),
    ),
  );
}

async function receiptsScreen(): Promise<void> {
  const list = await store.receipts();
  frame(
    t("receipts_title"),
    await unconfirmedNote(),
    list.length
      ? h("ul", { class: "receipts", "data-testid": "receipts" }, ...list.map((r) => h("li", {}, receiptCard(r, false))))
      : h("p", {}, t("no_receipts")),
  );
}

// ---- start ----------------------------------------------------------------------------------

/**
 * The root this phone believes bills and receipts through: pinned the first time the app is
 * given one, and a different one offered later is refused (contract section 6).
 */
async function pinnedRoot(offered: string | undefined): Promise<TrustRoot> {
  const pinned = await store.rootKey();
  if (pinned && offered && pinned !== offered) {
    throw wireError("BAD_SIGNATURE", t("root_changed"));
  }
  const text = pinned ?? offered;
  if (!text) throw wireError("INVALID_FIELD", t("no_root"));
  const root = new TrustRoot(text);
  if (!pinned) await store.saveRootKey(text);
  return root;
}

/** Connects (again), or says why not and tries again later, unless only a new key helps. */
async function start(quiet = false): Promise<void> {
  clearTimeout(retryTimer);
  if (!quiet) {
    busState = "connecting";
    go(screen);
  }
  try {
    const cfg = (await (await fetch("/config.json", { cache: "no-store" })).json()) as { ws_url: string; root_key?: string };
    const root = await pinnedRoot(cfg.root_key);
    const bus = await connectPhone(cfg.ws_url);
    phone = { nc: bus.nc, device: bus.device, keys: new KeyDirectory(bus.nc, root) };
    busState = "connected";
    keyRefused = null;
    watch(bus);
    if (quiet && screen !== "me") return showBus();
    const p = await store.profile();
    screen = p?.payer ? "pay" : "me";
  } catch (e) {
    busState = "offline";
    keyRefused = e instanceof KeyRefused ? (e.key.state === "revoked" ? "revoked" : "conflict") : null;
    busWhy = () =>
      e instanceof NotEnrolled
        ? t("not_enrolled")
        : e instanceof KeyRefused
          ? t(keyRefused === "revoked" ? "key_revoked" : "key_conflict")
          : errorText(e).text;
    if (!keyRefused) retryTimer = setTimeout(() => void start(true), RETRY_MS);
    if (quiet) return showBus();
    screen = "me";
  }
  go(screen);
}

/**
 * Follows the connection: a drop is said at once (the client connects again by itself); once
 * back, the key is asked about, as the operator may have revoked it meanwhile; closed for
 * good, the phone connects anew, which says why when the system refuses the key.
 */
function watch(bus: Bus): void {
  void (async () => {
    for await (const s of bus.nc.status()) {
      if (s.type === "disconnect") {
        busState = "offline";
        busWhy = () => t("offline_text");
      } else if (s.type === "reconnect") {
        busState = "connected";
        void checkKey(bus);
      } else continue;
      showBus();
    }
  })();
  void bus.nc.closed().then(() => {
    if (phone?.nc !== bus.nc) return;
    phone = undefined;
    busState = "offline";
    busWhy = () => t("offline_text");
    showBus();
    void start(true);
  });
}

/** Closes the connection when the system no longer takes this key for the phone's. */
async function checkKey(bus: Bus): Promise<void> {
  const status = await keyStatus(bus.nc, bus.publicKey).catch(() => undefined);
  if (status && status.state !== "active") await bus.nc.close().catch(() => {});
}

// Installable and usable offline (receipts, the last app version); only in a secure context.
if ("serviceWorker" in navigator && window.isSecureContext) {
  void navigator.serviceWorker.register("/sw.js").catch(() => {});
}
setLanguage(pickLanguage(await store.language(), navigator.languages ?? [navigator.language]));
void start();
