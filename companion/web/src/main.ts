// The payer's phone: screens and what happens on them. The wire work is in enrol.ts,
// register.ts, pay.ts and verify.ts; this file only shows and asks.
import "./style.css";
import { connectPhone, identity, KeyRefused, newKey, NotEnrolled } from "./enrol.ts";
import { codeMessage, fieldMessage, lang, reasonText, localTime, money, pickLanguage, setLanguage, t, type Lang } from "./i18n.ts";
import { CodeError, link, parseCode, typed } from "./ids.ts";
import * as pay from "./pay.ts";
import { decodeFile, drawCode, scanCamera } from "./qr.ts";
import { checkBankAccount, checkName, checkNationalId, register } from "./register.ts";
import { lineText, shareImage } from "./share.ts";
import * as store from "./store.ts";
import type { Receipt } from "./types.ts";
import { KeyDirectory, TrustRoot } from "./verify.ts";
import { uuidText, wireError, WireError } from "./wire.ts";

type Child = Node | string | null | undefined | false;
function h(tag: string, attrs: Record<string, string | boolean | ((e: Event) => void)> = {}, ...kids: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else if (v !== false) el.setAttribute(k, v);
  }
  for (const c of kids) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

type Screen = "pay" | "code" | "receipts" | "me";
let phone: pay.Phone | undefined;
let busState: "connecting" | "connected" | "offline" = "connecting";
let busError = "";
/** The system refuses this phone's key for good (revoked, its id taken): a new key is the way on. */
let keyRefused = false;
/** While the key is not enrolled, the phone tries again in the background. */
const RETRY_MS = 5_000;
let screen: Screen = "pay";
let cleanup: (() => void)[] = [];

const root = document.getElementById("app") as HTMLElement;

function runCleanup(): void {
  for (const f of cleanup.splice(0)) f();
}

/** An error in the payer's words, and the code and message as the system said them. */
function errorText(e: unknown): { code: string; text: string } {
  if (e instanceof WireError) {
    if (e.code === "INVALID_FIELD") {
      const i = e.message.indexOf(": ");
      const field = i > 0 ? e.message.slice(0, i) : "";
      return { code: `${e.code}: ${e.message}`, text: fieldMessage(field, e.message) };
    }
    const known = codeMessage(e.code);
    return known ? { code: `${e.code}: ${e.message}`, text: known } : { code: e.code, text: e.message };
  }
  return { code: "INTERNAL", text: String((e as Error)?.message ?? e) };
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
      h(
        "span",
        { class: `bus ${busState}`, role: "status", "data-testid": "bus-state" },
        busState === "connected" ? t("connected") : busState === "connecting" ? t("connecting") : t("offline"),
      ),
      h(
        "button",
        {
          class: "lang",
          lang: other,
          "aria-label": t("lang_switch_label"),
          "data-testid": "lang",
          onclick: async () => {
            setLanguage(other);
            await store.saveLanguage(other);
            // A screen in the middle of something (a bill to confirm) is drawn again as it is;
            // any other starts again in the new language.
            if (redraw) redraw();
            else go(screen);
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
      busState === "offline"
        ? h(
            "p",
            { class: "banner", role: "alert" },
            `${t("offline")}: ${busError} `,
            keyRefused
              ? h(
                  "button",
                  {
                    class: "link",
                    "data-testid": "new-key",
                    onclick: async () => {
                      await newKey();
                      keyRefused = false;
                      void start();
                    },
                  },
                  t("new_key"),
                )
              : h("button", { class: "link", onclick: () => void start() }, t("retry")),
          )
        : null,
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

async function meScreen(message?: { code: string; text: string }): Promise<void> {
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
    frame(t("nav_me"), await balanceCard(p.payer), device);
    return;
  }
  const field = (name: string, label: string, check: (v: string) => WireError | undefined, attrs: Record<string, string>) => {
    const input = h("input", {
      id: `f-${name}`,
      name,
      "aria-describedby": `e-${name}`,
      required: true,
      ...attrs,
    }) as HTMLInputElement;
    const err = h("p", { id: `e-${name}`, class: "field-error", "aria-live": "polite" });
    input.addEventListener("blur", () => {
      const e = input.value ? check(input.value) : undefined;
      err.textContent = e ? fieldMessage(name, e.message) : "";
      input.setAttribute("aria-invalid", e ? "true" : "false");
    });
    return { input, err, el: h("div", { class: "field" }, h("label", { for: `f-${name}` }, label), input, err) };
  };
  const name = field("name", t("name"), checkName, { autocomplete: "name", value: p?.name ?? "" });
  const nid = field("national_id", t("national_id"), checkNationalId, {
    autocomplete: "off",
    inputmode: "text",
    maxlength: "18",
    value: p?.national_id ?? "",
  });
  const card = field("bank_account", t("bank_account"), checkBankAccount, {
    autocomplete: "cc-number",
    inputmode: "numeric",
    maxlength: "19",
    value: p?.bank_account ?? "",
  });
  const status = h("div", { role: "alert", "data-testid": "register-status" });
  if (message) status.append(h("p", { class: "error" }, `${t("refused")}: ${message.text}`, h("span", { class: "code" }, ` (${message.code})`)));
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "register" }, t("register_send")) as HTMLButtonElement;
  const form = h(
    "form",
    {
      novalidate: true,
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const skipChecks = localStorage.getItem("posfeeSkipChecks") === "1";
        const fields = [
          [name, checkName],
          [nid, checkNationalId],
          [card, checkBankAccount],
        ] as const;
        let first: HTMLInputElement | undefined;
        for (const [f, check] of fields) {
          const e = check(f.input.value);
          f.err.textContent = e ? fieldMessage(f.input.name, e.message) : "";
          f.input.setAttribute("aria-invalid", e ? "true" : "false");
          if (e && !first) first = f.input;
        }
        if (first && !skipChecks) {
          first.focus();
          return;
        }
        if (!phone) {
          status.replaceChildren(h("p", { class: "error" }, `${t("offline")}: ${busError}`));
          return;
        }
        submit.disabled = true;
        submit.textContent = t("registering");
        try {
          await register(phone.nc, { name: name.input.value, national_id: nid.input.value, bank_account: card.input.value }, !skipChecks);
          go("me");
        } catch (e) {
          const m = errorText(e);
          submit.disabled = false;
          submit.textContent = t("register_send");
          // The payer's words first, then paygate's own, with its code.
          status.replaceChildren(h("p", { class: "error" }, `${t("refused")}: ${m.text}`, h("span", { class: "code" }, ` (${m.code})`)));
          const field = e instanceof WireError && e.code === "INVALID_FIELD" ? e.message.split(":")[0] : "";
          const target = { name: name.input, national_id: nid.input, bank_account: card.input }[field];
          if (target) {
            target.setAttribute("aria-invalid", "true");
            target.focus();
          }
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

async function balanceCard(payer: string): Promise<HTMLElement> {
  const p = await store.profile();
  const paid = (await store.receipts()).reduce((s, r) => s + r.total.fen, 0);
  const balance = (p?.balance?.fen ?? 0) - paid;
  return h(
    "section",
    { class: "card", "aria-labelledby": "bal-h" },
    h("h2", { id: "bal-h" }, t("registered_as")),
    h("dl", {}, h("dt", {}, t("name")), h("dd", {}, p?.name ?? "")),
    h("dl", {}, h("dt", {}, t("bank_account")), h("dd", { class: "mono" }, `•••• ${(p?.bank_account ?? "").slice(-4)}`)),
    h("dl", {}, h("dt", {}, t("payer")), h("dd", { class: "mono" }, payer)),
    h("div", { class: "balance" }, h("span", {}, t("balance")), h("strong", { "data-testid": "balance" }, money(balance))),
    h("p", { class: "note" }, t("balance_note")),
  );
}

// ---- mode A ---------------------------------------------------------------------------------

async function payScreen(message?: { code: string; text: string }): Promise<void> {
  const p = await store.profile();
  const status = h("div", { role: "alert", "data-testid": "pay-status" });
  const say = (m: { code: string; text: string }) =>
    status.replaceChildren(h("p", { class: "error" }, m.text, h("span", { class: "code" }, ` (${m.code})`)));
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
      return say({ code: "INVALID_FIELD", text: e instanceof CodeError ? e.message : String(e) });
    }
    if (!phone) return say({ code: "UNAVAILABLE", text: t("offline") });
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

async function showCode(): Promise<void> {
  const p = await store.profile();
  if (!p?.payer) return void payScreen({ code: "PAYER_NOT_FOUND", text: t("not_registered") });
  if (!phone) return void payScreen({ code: "UNAVAILABLE", text: t("offline") });
  const shown = await pay.show(phone);
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
    // Expired or cancelled on the phone: back to the start, saying so unless the payer cancelled.
    if (screen === "code" && !cancelledByPayer) outcome("expired", errorText(e));
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
    outcome("ended", { code: `${e.code}: ${e.message}`, text: t("ended_text", { reason: reasonText(n.reason) }) });
  });
  redraw = () => drawConfirm(s, state);
  redraw();
}

/** The confirm screen for `s` in the current language; `state` outlives a redraw. */
function drawConfirm(s: pay.Session, state: { decided: boolean }): void {
  const b = s.verified.bill;
  const zh = lang() === "zh-CN";
  const rows = b.lines.map((l) =>
    h(
      "li",
      { class: "line" },
      h("div", { class: "line-head" }, h("span", {}, `${(zh ? l.label_zh : l.label) || l.label || l.kind} · ${l.period}`), h("strong", {}, money(l.amount))),
      h("div", { class: "note" }, (zh ? l.explanation_zh : l.explanation) || l.explanation),
    ),
  );
  const payBtn = h("button", { class: "primary", "data-testid": "confirm" }, t(state.decided ? "paying" : "confirm", { total: money(b.total.fen) })) as HTMLButtonElement;
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
    const e = await pay.decline(phone, s);
    outcome("declined", errorText(e));
  });
  frame(
    t("confirm_title"),
    h(
      "section",
      { class: "card bill", "aria-label": t("confirm_title") },
      h("dl", {}, h("dt", {}, t("payee")), h("dd", { "data-testid": "payee" }, (zh && b.tenant_name_zh) || b.tenant_name)),
      h("dl", {}, h("dt", {}, t("account")), h("dd", { "data-testid": "account" }, b.account)),
      b.holder_masked ? h("dl", {}, h("dt", {}, t("holder")), h("dd", {}, b.holder_masked)) : null,
      (zh ? b.class_zh : b.class) ? h("dl", {}, h("dt", {}, t("class")), h("dd", {}, (zh ? b.class_zh : b.class) ?? "")) : null,
      h("dl", {}, h("dt", {}, t("terminal")), h("dd", {}, b.terminal)),
      h("ul", { class: "lines" }, ...rows),
      h("dl", { class: "total" }, h("dt", {}, t("total")), h("dd", { "data-testid": "total" }, money(b.total.fen))),
      h("dl", {}, h("dt", {}, t("expires_at")), h("dd", {}, localTime(b.expires_at))),
      h(
        "p",
        { class: "verified", "data-testid": "verified" },
        h("span", { "aria-hidden": "true" }, "✔ "),
        t("verified"),
        h("span", { class: "note" }, ` — ${t("verified_detail", { tenant: b.tenant, key: s.verified.issued.signed.key_id })}`),
      ),
    ),
    h("div", { class: "actions decide" }, declineBtn, payBtn),
  );
}

type Outcome = "paid" | "declined" | "not_paid" | "unknown" | "ended" | "expired";

function outcome(kind: Outcome, m?: { code: string; text: string }, r?: Receipt): void {
  redraw = null;
  const title = { paid: t("paid_title"), declined: t("declined_title"), not_paid: t("not_paid_title"), unknown: t("unknown_title"), ended: t("ended_title"), expired: t("expired_title") }[kind];
  frame(
    title,
    h(
      "div",
      { class: `outcome ${kind}`, role: "status", "data-testid": "outcome", "data-outcome": kind },
      r ? receiptCard(r) : h("p", {}, m?.text ?? "", h("span", { class: "code" }, m ? ` (${m.code})` : "")),
    ),
    h("button", { class: "primary", onclick: () => go("pay") }, t("done")),
  );
}

function receiptCard(r: Receipt, open = true): HTMLElement {
  const zh = lang() === "zh-CN";
  const row = (k: string, v: Child, cls = "") => h("dl", { class: cls }, h("dt", {}, k), h("dd", {}, v));
  const lines = h(
    "ul",
    { class: "lines" },
    ...r.lines.map((l) => {
      const x = lineText(l);
      return h("li", { class: "line" }, h("div", { class: "line-head" }, h("span", {}, x.label), h("strong", {}, x.amount)), h("div", { class: "note" }, x.explanation));
    }),
  );
  const details = [row(t("terminal"), r.terminal), lines, row(t("payment_id"), h("span", { class: "mono" }, uuidText(r.payment_id)))];
  return h(
    "article",
    { class: "card receipt", "data-testid": "receipt", "aria-label": `${t("receipt")} ${(zh && r.tenant_name_zh) || r.tenant_name} ${money(r.total.fen)}` },
    h("h2", {}, h("span", { "aria-hidden": "true" }, "✔ "), (zh && r.tenant_name_zh) || r.tenant_name),
    row(t("account"), r.account),
    row(t("total"), money(r.total.fen), "total"),
    row(t("settled_at"), localTime(r.settled_at)),
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

async function start(quiet = false): Promise<void> {
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
    void bus.nc.closed().then(() => {
      busState = "offline";
      busError = t("offline");
      phone = undefined;
      go(screen);
    });
    const p = await store.profile();
    screen = p?.payer ? "pay" : "me";
  } catch (e) {
    const wasOffline = busState === "offline";
    busState = "offline";
    keyRefused = e instanceof KeyRefused;
    busError =
      e instanceof NotEnrolled
        ? t("not_enrolled")
        : e instanceof KeyRefused
          ? t(e.key.state === "revoked" ? "key_revoked" : "key_conflict")
          : errorText(e).text;
    if (e instanceof NotEnrolled) setTimeout(() => void start(true), RETRY_MS);
    if (quiet && wasOffline) return;
    screen = "me";
  }
  go(screen);
}

// Installable and usable offline (receipts, the last app version); only in a secure context.
if ("serviceWorker" in navigator && window.isSecureContext) {
  void navigator.serviceWorker.register("/sw.js").catch(() => {});
}
setLanguage(pickLanguage(await store.language(), navigator.languages ?? [navigator.language]));
void start();
