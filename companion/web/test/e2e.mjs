// End-to-end: the phone's web app in headless Chromium against a real `posfee up`, with the
// kiosk played by the pos-agent binary. Registers (a refusal first, then corrected with one
// tap), pays in mode A from a photo of the kiosk's QR code and from the typed code, corrects
// the payer's name, declines once (the kiosk hears it), pays in mode B (the kiosk reads the
// phone's code), checks receipts on both sides, then a second phone goes through every ending
// and error it can reach in Chinese (chineseSweep), is revoked and sees the system go away;
// last the data dir is scanned for the payer's identity in plain (paygate keeps it sealed). The browser runs in
// Asia/Shanghai, so times are checked in the payer's zone. Screenshots of every screen go to
// target/web-e2e/.
//
// Needs: the workspace's binaries built (posfee, pos-agent and the services), the app built
// (npm run build), and Debian's chromium (CHROMIUM=/path overrides).
import { spawn, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createInterface } from "node:readline";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import puppeteer from "puppeteer-core";
import QRCode from "qrcode";
import { nkeyAuthenticator, wsconnect } from "@nats-io/nats-core";
import { encode } from "@msgpack/msgpack";
import { createUser } from "@nats-io/nkeys";

// Node 20 has WebSocket behind a flag; the permission check below connects like the app does.
if (typeof WebSocket === "undefined") {
  const r = spawnSync(process.execPath, ["--experimental-websocket", ...process.argv.slice(1)], { stdio: "inherit" });
  process.exit(r.status ?? 1);
}

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../../..");
const targetDir = process.env.CARGO_TARGET_DIR || path.join(repo, "target");
const bin = (name) => path.join(targetDir, "debug", name);
const shots = path.join(targetDir, "web-e2e");
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";
const STEP_MS = 30_000;

const NAME = "测试隐私姓名";
/** The name as first registered, misspelt; corrected on the Me screen. */
const MISSPELT = "测试隐私性名";
const NATIONAL_ID = "11010519491231002X";
const BANK_ACCOUNT = "6222600260001072444";
const BAD_LUHN = "6222600260001072445";
const BAD_NATIONAL_ID = "110105194912310021";
// The second phone's payer (chineseSweep).
const NAME_2 = "测试二号付款人";
const NATIONAL_ID_2 = "110105198001011238";
const BAD_NATIONAL_ID_2 = "110105198001011237";
const BANK_ACCOUNT_2 = "4111111111111111";
const BAD_LUHN_2 = "4111111111111112";
const TERMINAL = "kiosk-07";
const TIME_ZONE = "Asia/Shanghai";

const started = Date.now();
const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a);
let failures = 0;
let passes = 0;
function check(cond, what) {
  if (cond) {
    passes++;
    log(`ok   ${what}`);
  } else {
    failures++;
    log(`FAIL ${what}`);
  }
}

fs.rmSync(shots, { recursive: true, force: true });
fs.mkdirSync(shots, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "posfee-web-e2e-"));
const data = path.join(tmp, "data");
const out = path.join(tmp, "out");
fs.mkdirSync(out);

// The repository's nats.conf for every posfee command (`posfee keys` renders the server's
// configuration again), even when the binaries are built in a target dir outside the checkout.
process.env.POSFEE_NATS_CONF = path.join(repo, "nats.conf");
const children = [];
function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGINT");
}
process.on("exit", cleanup);

function posfee(...args) {
  return execFileSync(bin("posfee"), [...args, "--data-dir", data], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** A running pos-agent pay: its JSON lines as they come, and how it ended. */
function kiosk(name, account, extra = [], tenant = "city-water") {
  const child = spawn(
    bin("pos-agent"),
    ["--terminal-id", TERMINAL, "--data-dir", data, "--json", "pay", "--tenant", tenant, "--account", account, ...extra],
    { stdio: ["ignore", "pipe", fs.openSync(path.join(out, `${name}.err`), "w")] },
  );
  children.push(child);
  const lines = [];
  const waiters = [];
  createInterface({ input: child.stdout }).on("line", (l) => {
    fs.appendFileSync(path.join(out, `${name}.out`), `${l}\n`);
    try {
      lines.push(JSON.parse(l));
    } catch {
      return;
    }
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise((r) => child.on("exit", (code) => r(code)));
  return {
    child,
    lines,
    exited,
    async find(pred) {
      const deadline = Date.now() + STEP_MS;
      for (;;) {
        const hit = lines.find(pred);
        if (hit) return hit;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${name}: not found; lines ${JSON.stringify(lines)}`);
        await new Promise((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    },
    async end() {
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), STEP_MS))]);
      return { code, last: lines[lines.length - 1] };
    },
  };
}

let page;
const cameraFile = path.join(tmp, "camera.y4m");

// ---- the screen, whichever phone `page` is ----

/** Every screen is photographed, and must fit a 360 px phone without sideways scrolling. */
async function shot(name) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 360, `${name} fits 360 px (${width} px wide)`);
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}
const text = (sel) => page.$eval(sel, (e) => e.textContent ?? "");
const busText = () => page.$eval('[data-testid="bus-state"]', (e) => e.textContent ?? "").catch(() => "");

/** Taps a tab and waits for its screen drawn anew (not the one before it, still showing). */
async function nav(tab, sel) {
  await page.$eval("main", (m) => m.setAttribute("data-stale", ""));
  await page.click(`[data-testid="nav-${tab}"]`);
  await page.waitForSelector(`main:not([data-stale]) ${sel}`, { timeout: STEP_MS });
}
const payScreen = () => nav("pay", '[data-testid="typed-code"]');
const meScreen = () => nav("me", '[data-testid="device-id"]');
async function typeCode(code) {
  await payScreen();
  await page.type('[data-testid="typed-code"]', code);
  await page.click('[data-testid="join"]');
}
async function confirmScreen(name, english = true) {
  await page.waitForSelector('[data-testid="verified"]', { timeout: STEP_MS });
  check((english ? /Signature verified/ : /签名已验证/).test(await text('[data-testid="verified"]')), `${name}: the bill's signature verified on the phone`);
  check((await text('[data-testid="payee"]')).length > 0, `${name}: payee ${await text('[data-testid="payee"]')}`);
}
async function outcome() {
  await page.waitForSelector('[data-testid="outcome"]', { timeout: 70_000 });
  return page.$eval('[data-testid="outcome"]', (e) => e.getAttribute("data-outcome"));
}
/** What the pay screen says after a code was given (the first words in it). */
async function payStatus(pattern) {
  await page.waitForFunction((p) => new RegExp(p).test(document.querySelector('[data-testid="pay-status"]')?.textContent ?? ""), { timeout: STEP_MS }, pattern.source);
  return text('[data-testid="pay-status"]');
}
/** Replaces a field's value as the payer does: select it all and type over it. */
async function retype(sel, value) {
  await page.click(sel, { clickCount: 3 });
  await page.keyboard.press("Backspace");
  await page.type(sel, value);
}

/** A normal ending (declined, ended at the kiosk, a code expired): calm, no error box, no raw code. */
async function calmEnding(name, want) {
  const o = await page.$eval('[data-testid="outcome"]', (e) => ({
    kind: e.getAttribute("data-outcome"),
    neutral: e.classList.contains("neutral"),
    text: e.innerText,
    errors: document.querySelectorAll(".error").length,
    bg: getComputedStyle(e.querySelector(".outcome-text") ?? e).backgroundColor,
  }));
  check(
    o.kind === want && o.neutral && o.errors === 0 && o.bg !== "rgb(253, 236, 234)" && !/[A-Z]{2,}_[A-Z]/.test(o.text) && o.text.trim().length > 0,
    `${name}: shown as a normal ending, not an error (${JSON.stringify(o)})`,
  );
}

/** An instant as the payer in Asia/Shanghai (UTC+8 all year) reads it. */
function shanghai(rfc3339) {
  return new Date(Date.parse(rfc3339) + 8 * 3600_000).toISOString().slice(0, 19).replace("T", " ");
}

/** The time shown in `sel` is `instant` in the payer's zone, and the zone is named. */
async function shownTime(sel, instant, zone, what) {
  const shown = await page.$eval(sel, (e) => ({ time: e.querySelector(".time")?.textContent, zone: e.querySelector(".zone")?.textContent }));
  check(shown.time === shanghai(instant) && shown.zone === zone, `${what} is shown in the payer's zone: ${JSON.stringify(shown)} for ${instant}`);
}

/** Every amount, period and time on the screen is one line high at 360 px, never broken inside:
 * its text's line boxes all share one top, and together are less than two lines of its font high. */
async function oneLine(where) {
  const all = await page.evaluate(() =>
    [...document.querySelectorAll(".amount, .period, .time")]
      .filter((e) => e.checkVisibility())
      .map((e) => {
        const r = document.createRange();
        r.selectNodeContents(e);
        const tops = new Set([...r.getClientRects()].map((x) => Math.round(x.top)));
        return { t: e.textContent, lines: tops.size, h: r.getBoundingClientRect().height, font: Number.parseFloat(getComputedStyle(e).fontSize) };
      }),
  );
  const broken = all.filter((x) => x.lines !== 1 || !(x.h < 2 * x.font));
  check(all.length > 0 && broken.length === 0, `${where}: ${all.length} amounts, periods and times, each on one line${broken.length ? `; broken: ${JSON.stringify(broken)}` : ""}`);
}

/** The bill's lines on the screen are the signed bill's, each with its own explanation. */
async function linesShown(where, bill, zh) {
  const shown = await page.$$eval('[data-testid="line"]', (ls) => ls.map((l) => ({ head: l.querySelector(".line-head")?.textContent ?? "", why: l.querySelector(".explanation")?.textContent ?? "" })));
  const want = bill.lines.map((l) => (zh ? l.explanation_zh : l.explanation));
  const labels = bill.lines.every((l, i) => shown[i]?.head.startsWith(zh ? l.label_zh : l.label));
  check(
    shown.length === want.length && shown.every((s, i) => s.why === want[i]) && labels,
    `${where}: each of the ${want.length} lines shows its own kind, period and explanation (${shown.map((s) => s.head).join(" | ")})`,
  );
}

// ---- the Chinese sweep ----

/** Latin words a Chinese screen may show, each for its reason. Ids (anything with a digit or a
 * hyphen), the run's own ids and the payee's own words in its bill are allowed besides. */
const ZH_ALLOWED = new Map([
  ["posfee", "the product's name, part of the app's title in every language"],
  ["PDF", "the file format “保存为 PDF” saves; Chinese screens name it so"],
  ["English", "the language switch names the other language in that language"],
  ["m²", "a unit (area) in the payee's bill texts"],
  ["m³", "a unit (volume) in the payee's bill texts"],
  ["kWh", "a unit (energy) in the payee's bill texts"],
]);

/** The words in `text` with a Latin letter, with what joins ids inside them (kiosk-07:0024-…,
 * city-water) and without punctuation at their end ("phabcd:" is "phabcd"). */
function latinWords(text) {
  return (text.match(/[A-Za-z0-9_\-.:/+@²³']+/g) ?? []).map((w) => w.replace(/[.:/+@']+$/, "")).filter((w) => /[A-Za-z]/.test(w));
}

/** The Latin words of the payee's own Chinese texts in `bill` (its names, line texts, units). */
function billWords(bill) {
  return latinWords([bill.tenant_name_zh, bill.class_zh, bill.holder_masked, ...bill.lines.flatMap((l) => [l.label_zh, l.explanation_zh, l.unit_zh])].join(" "));
}

/**
 * The screen in Chinese has no English word: every Latin word is an id, allowed (ZH_ALLOWED,
 * `allowed`), or an error code in a small `.code` note that holds nothing but the code.
 */
async function noEnglish(where, allowed = []) {
  const { body, codes, lang } = await page.evaluate(() => ({
    body: document.body.innerText,
    codes: [...document.querySelectorAll(".code")].map((e) => e.innerText.trim()),
    lang: document.documentElement.lang,
  }));
  let rest = body;
  for (const c of codes) rest = rest.replace(c, " ");
  const badCodes = codes.filter((c) => !/^\([A-Z]+(?:_[A-Z]+)*\)$/.test(c));
  const english = latinWords(rest).filter((w) => !/[0-9-]/.test(w) && !ZH_ALLOWED.has(w) && !allowed.includes(w));
  check(
    lang === "zh-CN" && english.length === 0 && badCodes.length === 0,
    `${where}: in Chinese, no English words${english.length || badCodes.length ? `: ${JSON.stringify([...english, ...badCodes])} in ${JSON.stringify(body)}` : ""}`,
  );
}

/** A still video (Y4M, 4:2:0) of the QR code of `text`, for Chromium's fake camera. */
function writeCameraVideo(text) {
  const qr = QRCode.create(text, { errorCorrectionLevel: "M" });
  const n = qr.modules.size;
  const w = 640;
  const h = 480;
  const cell = Math.floor((h - 80) / n);
  const x0 = Math.floor((w - cell * n) / 2);
  const y0 = Math.floor((h - cell * n) / 2);
  const y = Buffer.alloc(w * h, 235);
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++)
      if (qr.modules.get(r, c))
        for (let dy = 0; dy < cell; dy++) y.fill(16, (y0 + r * cell + dy) * w + x0 + c * cell, (y0 + r * cell + dy) * w + x0 + (c + 1) * cell);
  const chroma = Buffer.alloc((w / 2) * (h / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from("FRAME\n"), y, chroma]);
  const frames = Array.from({ length: 10 }, () => frame);
  fs.writeFileSync(cameraFile, Buffer.concat([Buffer.from(`YUV4MPEG2 W${w} H${h} F10:1 Ip A1:1 C420jpeg\n`), ...frames]));
}

async function main() {
  // Something for the camera until a kiosk shows its code.
  writeCameraVideo("posfee://pair/kiosk-00/00000000000000000000000000000000");
  // ---- the system ----
  const up = spawn(
    bin("posfee"),
    ["up", "--data-dir", data, "--port", "0", "--web-dir", path.join(repo, "companion/web/dist")],
    { stdio: ["ignore", "pipe", fs.openSync(path.join(out, "up.err"), "w")], env: { ...process.env, RUST_LOG: "debug" } },
  );
  children.push(up);
  const upExited = new Promise((r) => up.on("exit", r));
  const ready = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("posfee up did not become ready")), 60_000);
    createInterface({ input: up.stdout }).on("line", (l) => {
      fs.appendFileSync(path.join(out, "up.out"), `${l}\n`);
      if (l.startsWith("ready:")) {
        clearTimeout(t);
        resolve(l);
      }
    });
    up.on("exit", (c) => reject(new Error(`posfee up exited ${c}`)));
  });
  const appUrl = /phone app at (http:\/\/\S+)/.exec(ready)?.[1];
  const wsUrl = /WebSocket (ws:\/\/[^)\s]+)/.exec(ready)?.[1];
  check(!!appUrl, `posfee up serves the phone app: ${ready}`);
  if (!appUrl) throw new Error("no app URL");
  posfee("import", "accounts", path.join(repo, "tests/samples/accounts.csv"), "--quiet");
  posfee("import", "readings", path.join(repo, "tests/samples/readings.csv"), "--quiet");
  posfee("keys", "terminal", TERMINAL);
  log("system up, samples imported");

  // ---- the phone ----
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--lang=en-US",
      "--disable-dev-shm-usage",
      // The camera: a fake device playing a file the test writes before each scan.
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      `--use-file-for-fake-video-capture=${cameraFile}`,
    ],
  });
  page = await phonePage(browser);
  const cdp = await page.createCDPSession();
  await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: shots });

  const first = await page.goto(appUrl, { waitUntil: "networkidle0" });
  const csp = first.headers()["content-security-policy"] ?? "";
  check(
    /default-src 'self'/.test(csp) && /script-src 'self'/.test(csp) && /frame-ancestors 'none'/.test(csp) && first.headers()["x-content-type-options"] === "nosniff",
    `the app is served under a strict Content-Security-Policy and nosniff (${csp})`,
  );
  await page.waitForFunction(() => !/Connecting/.test(document.querySelector('[data-testid="bus-state"]')?.textContent ?? ""), { timeout: STEP_MS });
  const publicKey = await text('[data-testid="public-key"]');
  check(/^U[A-Z2-7]{55}$/.test(publicKey), `the phone made its own bus key ${publicKey}`);
  // The phone enrolled its own key (nobody ran a command) and connected again as a phone.
  await page.waitForFunction(() => document.querySelector('[data-testid="bus-state"]')?.textContent === "Connected", { timeout: STEP_MS });
  check(true, "the phone enrolled itself and is connected over WebSocket");
  const listed = posfee("keys", "list", "--json", "--devices", "10");
  const device = `ph${publicKey.slice(2, 10).toLowerCase()}`;
  check(listed.includes(`"id":"${device}"`), `the identity service lists the phone ${device} as enrolled`);
  const pwa = await page.evaluate(async () => {
    const manifest = await (await fetch("/manifest.webmanifest")).json();
    const reg = await navigator.serviceWorker.ready;
    return { icons: manifest.icons.length, sw: !!reg.active };
  });
  check(pwa.icons >= 2 && pwa.sw, "installable: manifest with icons, service worker active");

  // ---- registration: refused locally, refused by paygate, corrected with one tap ----
  // Leave the field first: its check shows on blur.
  const submitRegister = async () => {
    await page.keyboard.press("Tab");
    await page.click('[data-testid="register"]');
  };
  await page.waitForSelector("#f-name");
  await shot("02-register");
  await page.type("#f-name", MISSPELT);
  await page.type("#f-national_id", NATIONAL_ID);
  await page.type("#f-bank_account", BAD_LUHN);
  await submitRegister();
  await page.waitForFunction(() => /Luhn/.test(document.querySelector("#e-bank_account")?.textContent ?? ""));
  check(
    await page.$eval("#f-bank_account", (e) => e.getAttribute("aria-invalid") === "true"),
    "a mistyped card is shown before sending",
  );
  check((await page.evaluate(() => document.activeElement?.id)) === "f-bank_account", "focus moves to the mistyped field");
  await shot("03-register-local-check");
  // Paygate's own refusal: the test switches the phone's checks off so the fields reach paygate.
  await page.evaluate(() => localStorage.setItem("posfeeSkipChecks", "1"));
  await retype("#f-national_id", BAD_NATIONAL_ID);
  await submitRegister();
  await page.waitForFunction(() => /INVALID_FIELD/.test(document.querySelector('[data-testid="register-status"]')?.textContent ?? ""), { timeout: STEP_MS });
  check(/check character/.test(await text('[data-testid="register-status"]')), "paygate's refusal is shown clearly");
  await shot("04-register-refused-by-paygate");
  await page.evaluate(() => localStorage.removeItem("posfeeSkipChecks"));
  // Corrected, then ONE tap straight from the field (no leaving it first): the tap registers.
  await retype("#f-national_id", NATIONAL_ID);
  await retype("#f-bank_account", BANK_ACCOUNT);
  await page.click('[data-testid="register"]');
  const tapped = await page.evaluate(() => ({
    refusal: document.querySelector('[data-testid="register-status"]')?.textContent ?? "",
    sending: document.querySelector('[data-testid="register"]')?.disabled === true || !!document.querySelector('[data-testid="balance"]'),
  }));
  check(tapped.refusal === "" && tapped.sending, `one tap after the correction registers, and the stale refusal is gone (${JSON.stringify(tapped)})`);
  await page.waitForSelector('[data-testid="balance"]', { timeout: STEP_MS });
  check((await text('[data-testid="balance"]')) === "10000.00 CNY", "corrected and registered; test balance 10000.00 CNY");
  const me = await page.$eval("main", (e) => e.innerText);
  check(
    /Payer account number/.test(me) && /Balance \(test money\)/.test(me) && !/Bus key|handle|Sandbox/i.test(me),
    "the Me screen speaks the payer's words (payer account number, test balance), not the developer's",
  );
  await oneLine("the Me screen");
  await shot("05-registered");

  let paidFen = 0;
  const receiptOf = async (k, name) => {
    const { code, last } = await k.end();
    const pid = last?.receipt?.payment_id;
    check(code === 0 && !!pid, `${name}: the kiosk printed the receipt (exit ${code})`);
    const phoneHas = await page.$eval('[data-testid="receipt"]', (e) => e.textContent ?? "");
    check(!!pid && phoneHas.includes(pid), `${name}: the phone's receipt has the kiosk's payment id ${pid}`);
    if (last?.receipt) await shownTime('[data-testid="settled-at"]', last.receipt.settled_at, "China Standard Time", `${name}: the time paid`);
    paidFen += last?.receipt?.total?.fen ?? 0;
  };

  // ---- mode A, from a photo of the kiosk's QR code; a bill with long amounts and periods ----
  await payScreen();
  await shot("06-pay");
  let k = kiosk("mode-a-qr", "1-1-0000", [], "acme-property");
  const offered = await k.find((l) => l.pairing);
  const qrFile = path.join(shots, "kiosk-qr.png");
  await QRCode.toFile(qrFile, offered.pairing.uri, { width: 300, margin: 4 });
  const photo = await page.$('[data-testid="photo"]');
  await photo.uploadFile(qrFile);
  await confirmScreen("mode A (QR)");
  await shownTime('[data-testid="expires-at"]', offered.bill.expires_at, "China Standard Time", "the bill's expiry");
  await linesShown("mode A (QR)", offered.bill, false);
  await oneLine("the confirm screen at 360 px");
  await shot("07-confirm");
  await page.click('[data-testid="confirm"]');
  check((await outcome()) === "paid", "mode A (QR): paid");
  await oneLine("the paid screen at 360 px");
  await shot("08-paid");
  await receiptOf(k, "mode A (QR)");

  // ---- the payer corrects the misspelt name on the Me screen ----
  await amendName();

  // ---- the same code again: the pairing is gone ----
  await payScreen();
  await (await page.$('[data-testid="photo"]')).uploadFile(qrFile);
  await payStatus(/PAIRING_GONE/);
  check(true, "a used code is gone (no responders): PAIRING_GONE");

  // ---- mode A, typed code: paying still works after the correction ----
  k = kiosk("mode-a-typed", "W-000005");
  const typedBill = await k.find((l) => l.pairing);
  const typedCode = typedBill.pairing.code;
  await typeCode(typedCode.toLowerCase());
  await confirmScreen("mode A (typed)");
  // Switching the language while deciding keeps the bill: the same bill in Chinese, then back.
  const totalBefore = await text('[data-testid="total"]');
  await page.click('[data-testid="lang"]');
  await page.waitForFunction(() => document.documentElement.lang === "zh-CN");
  await page.waitForFunction(() => /签名/.test(document.querySelector('[data-testid="verified"]')?.textContent ?? ""), { timeout: 5_000 });
  const totalZh = await text('[data-testid="total"]');
  check(totalZh === totalBefore.replace(" CNY", " 元"), `the bill is still there in Chinese (${totalBefore}, ${totalZh})`);
  await linesShown("the bill in Chinese", typedBill.bill, true);
  await shownTime('[data-testid="expires-at"]', typedBill.bill.expires_at, "中国标准时间", "the bill's expiry, in Chinese");
  await oneLine("the confirm screen in Chinese");
  await noEnglish("the confirm screen", [device, publicKey, ...billWords(typedBill.bill)]);
  await shot("07b-confirm-zh");
  await page.click('[data-testid="lang"]');
  await page.waitForFunction(() => document.documentElement.lang === "en");
  await confirmScreen("mode A (typed), back in English");
  // A long bill (six lines): Pay is on the 360×740 screen without scrolling all the same.
  await page.evaluate(() => window.scrollTo(0, 0));
  const pageHeight = await page.evaluate(() => document.documentElement.scrollHeight);
  const payBox = await (await page.$('[data-testid="confirm"]')).boundingBox();
  check(
    pageHeight > 740 && payBox && payBox.y >= 0 && payBox.y + payBox.height <= 740,
    `Pay is on screen without scrolling on a ${pageHeight} px page (${JSON.stringify(payBox)})`,
  );
  await page.screenshot({ path: path.join(shots, "07a-confirm-viewport.png") });
  await page.click('[data-testid="confirm"]');
  check((await outcome()) === "paid", "mode A (typed, lower case): paid after the name was corrected and the language switched twice");
  await receiptOf(k, "mode A (typed)");

  // ---- a basket: three billers, one code, one confirmation, three receipts ----
  k = kiosk("basket", "W-000037", ["--also", "city-power:E-000006", "--also", "city-telecom:13800000011"]);
  await typeCode((await k.find((l) => l.pairing)).pairing.code);
  await confirmScreen("the basket");
  await page.waitForSelector('[data-testid="basket"]', { timeout: STEP_MS });
  const cards = await page.$$eval('[data-testid="bill"]', (els) =>
    els.map((e) => ({
      payee: e.querySelector('[data-testid="payee"]')?.textContent ?? "",
      total: e.querySelector('[data-testid="total"]')?.textContent ?? "",
    })),
  );
  const fen = (t) => Math.round(Number(t.replace(/[^0-9.]/g, "")) * 100);
  const basketTotal = await text('[data-testid="basket-total"]');
  check(
    cards.length === 3 && new Set(cards.map((c) => c.payee)).size === 3,
    `the basket's three bills from three billers are on the phone: ${cards.map((c) => c.payee).join(", ")}`,
  );
  check(
    cards.reduce((sum, c) => sum + fen(c.total), 0) === fen(basketTotal) && (await text('[data-testid="confirm"]')).includes(basketTotal.replace(" CNY", "")),
    `one total for the basket, on the Pay button too: ${basketTotal}`,
  );
  await oneLine("the basket's confirm screen at 360 px");
  await shot("07c-basket-confirm");
  await page.click('[data-testid="confirm"]');
  check((await outcome()) === "paid", "the basket: paid in one confirmation");
  await page.waitForSelector('[data-testid="basket-paid"]', { timeout: STEP_MS });
  await oneLine("the basket's receipts at 360 px");
  await shot("07d-basket-paid");
  {
    const { code } = await k.end();
    const printed = k.lines.filter((l) => l.receipt).map((l) => l.receipt);
    const summary = k.lines.find((l) => l.basket)?.basket;
    const onPhone = await page.$$eval('[data-testid="receipt"]', (els) => els.map((e) => e.textContent ?? ""));
    check(
      code === 0 && printed.length === 3 && summary?.bills === 3 && summary.total_fen === fen(basketTotal),
      `the kiosk printed three receipts and the basket's total (exit ${code}, ${JSON.stringify(summary)})`,
    );
    check(
      printed.every((r) => onPhone.some((t) => t.includes(r.payment_id))) && new Set(printed.map((r) => r.payment_id)).size === 3,
      "the phone shows each bill's receipt with the kiosk's payment ids, one payment id per bill",
    );
    paidFen += summary?.total_fen ?? 0;
  }

  // ---- a mistyped code is refused on the phone ----
  await typeCode(typedCode.replace(/.$/, (c) => (c === "0" ? "1" : "0")));
  await payStatus(/check symbols/);
  check(true, "a mistyped code is caught by its check symbols");

  // ---- declined, scanned with the camera: the kiosk hears it ----
  await payScreen();
  k = kiosk("declined", "W-000009");
  writeCameraVideo((await k.find((l) => l.pairing)).pairing.uri);
  await page.click('[data-testid="scan"]');
  await confirmScreen("decline");
  const declineStarted = Date.now();
  await page.click('[data-testid="decline"]');
  check((await outcome()) === "declined", "the phone shows declined");
  await calmEnding("declined", "declined");
  await shot("09-declined");
  const dec = await k.end();
  check(dec.code === 3 && JSON.stringify(dec.last).includes("declined"), `the kiosk heard the decline at once (${Date.now() - declineStarted} ms, ${JSON.stringify(dec.last)})`);

  // ---- cancelled at the kiosk while the payer decides: the phone is told at once ----
  k = kiosk("cancelled", "W-000017");
  await typeCode((await k.find((l) => l.pairing)).pairing.code);
  await confirmScreen("cancel at the kiosk");
  k.child.kill("SIGINT");
  check((await outcome()) === "ended", "the kiosk cancelled: the phone says the payment ended at the kiosk");
  await calmEnding("cancelled at the kiosk", "ended");
  await shot("10-ended-at-kiosk");
  const can = await k.end();
  check(can.code === 130, `the kiosk closed the bill and stopped (${can.code}, ${JSON.stringify(can.last)})`);

  // ---- mode B: the kiosk reads the phone's code ----
  await nav("code", '[data-testid="show-code"]');
  await page.click('[data-testid="show-code"]');
  await page.waitForSelector('[data-testid="wallet-typed"]');
  const walletCode = await page.$eval('[data-testid="wallet-typed"]', (e) => e.getAttribute("data-code") ?? "");
  check((await text('[data-testid="wallet-typed"]')) === walletCode, "the typed code on screen is the code");
  check(/^ph[a-z2-7]{8}:/.test(walletCode), `the phone shows its wallet code ${walletCode}`);
  await shot("11-wallet-code");
  k = kiosk("mode-b", "W-000013", ["--wallet", walletCode]);
  await confirmScreen("mode B");
  await shot("12-confirm-mode-b");
  await page.click('[data-testid="confirm"]');
  check((await outcome()) === "paid", "mode B: paid");
  await receiptOf(k, "mode B");

  // ---- over WebSocket a phone has a phone's permissions, no more ----
  await wsPermissions(wsUrl, publicKey);

  // ---- receipts, their lines behind a marked disclosure, shared as an image; Chinese ----
  await nav("receipts", '[data-testid="receipts"]');
  check((await page.$$('[data-testid="receipt"]')).length === 6, "six receipts kept on the phone (three payments and a basket of three)");
  await disclosure();
  await oneLine("the receipts");
  await shot("13-receipts");
  await page.click('[data-testid="share-image"]');
  const deadline = Date.now() + 10_000;
  let png;
  while (!png && Date.now() < deadline) {
    png = fs.readdirSync(shots).find((f) => f.startsWith("receipt-") && f.endsWith(".png"));
    if (!png) await new Promise((r) => setTimeout(r, 100));
  }
  check(!!png && fs.readFileSync(path.join(shots, png)).subarray(1, 4).toString() === "PNG", `a receipt shared as an image (${png})`);
  await page.click('[data-testid="lang"]');
  await page.waitForFunction(() => document.documentElement.lang === "zh-CN");
  await page.waitForFunction(() => document.querySelector("h1")?.textContent === "缴费凭证", { timeout: 5_000 });
  check(true, "switched to Chinese");
  await page.$$eval("details", (ds) => ds.forEach((d) => (d.open = true)));
  await noEnglish("the receipts, opened", [device, publicKey, ...billWords(offered.bill), ...billWords(typedBill.bill)]);
  await shot("14-receipts-zh");
  await meScreen();
  await page.waitForSelector('[data-testid="balance"]');
  const bal = await text('[data-testid="balance"]');
  const left = 1_000_000 - paidFen;
  const want = `${Math.floor(left / 100)}.${String(left % 100).padStart(2, "0")} 元`;
  check(bal === want, `the balance went down by the three payments: ${bal}`);
  const meZh = await page.$eval("main", (e) => e.innerText);
  check(/付款账户编号/.test(meZh) && /余额（测试）/.test(meZh), "the Me screen in Chinese: 付款账户编号, 余额（测试）");
  await noEnglish("the Me screen", [device, publicKey]);
  await shot("15-me-zh");
  await page.reload({ waitUntil: "networkidle0" });
  await page.waitForSelector("nav");
  check((await page.$eval("html", (e) => e.lang)) === "zh-CN", "the language choice is kept");
  await nav("receipts", '[data-testid="receipts"]');
  check((await page.$$('[data-testid="receipt"]')).length === 6, "the receipts are kept across a reload");

  // ---- a second phone, in Chinese, through every ending and error; then revoked, then offline ----
  await chineseSweep(browser, appUrl, up);
  await browser.close();

  // ---- nothing of the payer in plain but on the phone ----
  if (up.exitCode === null && up.signalCode === null) up.kill("SIGINT");
  await upExited;
  // Paygate's store included: it keeps the payers' details sealed (services/paygate/src/vault.rs).
  const found = scan(data, []);
  check(found.length === 0, `no personal data in plain anywhere in the data dir${found.length ? `: ${found.join("; ")}` : ""}`);
  const control = path.join(tmp, "control");
  fs.mkdirSync(control, { recursive: true });
  fs.writeFileSync(path.join(control, "plain"), JSON.stringify({ name: NAME, national_id: NATIONAL_ID, bank_account: BANK_ACCOUNT }));
  check(scan(control, []).length >= 3, "the scan does find the identity where it is in plain");
}

/** A phone's page: 360×740, in Asia/Shanghai, and any page error or blocked load a failure. */
async function phonePage(context) {
  const p = await context.newPage();
  await p.setViewport({ width: 360, height: 740, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  await p.emulateTimezone(TIME_ZONE);
  p.on("console", (m) => {
    fs.appendFileSync(path.join(out, "console.log"), `${m.type()}: ${m.text()}\n`);
    // The app runs under the strict policy posfee up serves it with: anything it blocks is a bug.
    if (/Content Security Policy|Refused to (load|execute|apply|connect|frame)/i.test(m.text())) {
      failures++;
      log(`FAIL blocked by the Content-Security-Policy: ${m.text()}`);
    }
  });
  p.on("pageerror", (e) => {
    failures++;
    log(`FAIL page error: ${e.message}`);
  });
  return p;
}

/** The receipts' lines are behind a disclosure that says so: ▸ closed, ▾ open, lines shown. */
async function disclosure() {
  const mark = () => page.$eval("details summary", (s) => getComputedStyle(s, "::before").content);
  const linesShown = () => page.$eval("details", (d) => [...d.querySelectorAll('[data-testid="line"]')].filter((l) => l.checkVisibility()).length);
  const closed = { mark: await mark(), lines: await linesShown() };
  await page.click("details summary");
  const opened = { mark: await mark(), lines: await linesShown() };
  check(closed.mark === '"▸"' && closed.lines === 0 && opened.mark === '"▾"' && opened.lines > 0, `the receipt's lines are behind a marked disclosure (${JSON.stringify({ closed, opened })})`);
}

/** Me → Edit: the name corrected at paygate and on the phone; the national id not offered. */
async function amendName() {
  await meScreen();
  await page.click('[data-testid="edit"]');
  await page.waitForSelector('[data-testid="amend-save"]');
  const form = await page.evaluate(() => ({
    name: document.querySelector("#f-name")?.value,
    card: document.querySelector("#f-bank_account")?.value,
    idInput: !!document.querySelector("#f-national_id"),
    id: document.querySelector('[data-testid="national-id"]')?.textContent ?? "",
  }));
  check(
    form.name === MISSPELT && form.card === BANK_ACCOUNT && !form.idInput && !form.id.includes(NATIONAL_ID) && form.id.startsWith(NATIONAL_ID.slice(0, 3)),
    `the edit form has the stored name and card, the national id shown masked, not editable (${form.id})`,
  );
  await shot("05a-edit");
  await retype("#f-name", NAME);
  await page.click('[data-testid="amend-save"]');
  await page.waitForSelector('[data-testid="me-status"]', { timeout: STEP_MS });
  const said = await text('[data-testid="me-status"]');
  check(/Saved/.test(said) && /Name/.test(said), `the correction is confirmed: ${said}`);
  check((await text('[data-testid="name"]')) === NAME, `the corrected name is shown: ${await text('[data-testid="name"]')}`);
  await shot("05b-edited");
}

/**
 * A second phone, in Chinese, goes through every screen it can reach here: registration
 * refused for each field (on the phone and by paygate), registered, its details corrected,
 * codes mistyped, unknown, used and expired, a bill paid, declined, cancelled at the kiosk and
 * left unpaid until the kiosk gave up, its wallet code expired and shown again, receipts, its
 * key revoked and a new one made, and the system gone. Each screen must have no English word.
 */
async function chineseSweep(browser, appUrl, up) {
  const context = await browser.createBrowserContext();
  page = await phonePage(context);
  await page.goto(appUrl, { waitUntil: "networkidle0" });
  await page.waitForSelector("#f-name", { timeout: STEP_MS });
  await page.click('[data-testid="lang"]');
  await page.waitForFunction(() => document.documentElement.lang === "zh-CN");
  await page.waitForFunction(() => document.querySelector('[data-testid="bus-state"]')?.textContent === "已连接", { timeout: STEP_MS });
  const ids = async () => [await text('[data-testid="device-id"]'), await text('[data-testid="public-key"]')];
  let allowed = await ids();
  await noEnglish("the registration form", allowed);
  await shot("zh-01-register");

  // Refused on the phone: each field says what is wrong.
  await page.type("#f-name", " ");
  await page.type("#f-national_id", BAD_NATIONAL_ID_2);
  await page.type("#f-bank_account", BAD_LUHN_2);
  await page.click('[data-testid="register"]');
  await page.waitForFunction(() => ["name", "national_id", "bank_account"].every((f) => document.querySelector(`#e-${f}`)?.textContent));
  await noEnglish("the phone's own field checks", allowed);
  await shot("zh-02-register-checks");
  // Refused by paygate, one field at a time.
  await page.evaluate(() => localStorage.setItem("posfeeSkipChecks", "1"));
  const refused = async (name, id, card, want, what) => {
    await retype("#f-name", name);
    await retype("#f-national_id", id);
    await retype("#f-bank_account", card);
    await page.click('[data-testid="register"]');
    await page.waitForFunction(() => /INVALID_FIELD/.test(document.querySelector('[data-testid="register-status"]')?.textContent ?? ""), { timeout: STEP_MS });
    const said = await text('[data-testid="register-status"]');
    check(want.test(said), `paygate refuses the ${what}, said in Chinese: ${said}`);
    await noEnglish(`paygate's refusal of the ${what}`, allowed);
  };
  await refused("名".repeat(65), NATIONAL_ID_2, BANK_ACCOUNT_2, /请输入 1 到 64 个可打印字符/, "name");
  await refused(NAME_2, BAD_NATIONAL_ID_2, BANK_ACCOUNT_2, /校验码不符/, "national id");
  await refused(NAME_2, NATIONAL_ID_2, BAD_LUHN_2, /卡号校验不通过/, "bank card");
  await shot("zh-03-register-refused");
  await page.evaluate(() => localStorage.removeItem("posfeeSkipChecks"));
  await retype("#f-bank_account", BANK_ACCOUNT_2);
  await page.click('[data-testid="register"]');
  await page.waitForSelector('[data-testid="balance"]', { timeout: STEP_MS });
  await noEnglish("the Me screen, registered", allowed);
  await shot("zh-04-registered");

  // Correcting the details: a mistyped card on the phone, then a saved name.
  await page.click('[data-testid="edit"]');
  await page.waitForSelector('[data-testid="amend-save"]');
  await retype("#f-bank_account", BAD_LUHN_2);
  await page.click('[data-testid="amend-save"]');
  await page.waitForFunction(() => document.querySelector("#e-bank_account")?.textContent);
  await noEnglish("the edit form with a mistyped card", allowed);
  await shot("zh-05-edit-refused");
  await retype("#f-bank_account", BANK_ACCOUNT_2);
  await retype("#f-name", `${NAME_2}甲`);
  await page.click('[data-testid="amend-save"]');
  await page.waitForSelector('[data-testid="me-status"]', { timeout: STEP_MS });
  check(/已在支付平台保存：姓名/.test(await text('[data-testid="me-status"]')), `the correction is confirmed in Chinese: ${await text('[data-testid="me-status"]')}`);
  await noEnglish("the correction saved", allowed);
  await shot("zh-06-edited");

  // Codes: not a code, mistyped, an unknown kiosk, a used one, an expired one.
  await payScreen();
  await noEnglish("the pay screen", allowed);
  await typeCode("hello");
  await payStatus(/INVALID_FIELD/);
  await noEnglish("not a kiosk's code", allowed);
  let k = kiosk("zh-paid", "4-3-0012", [], "acme-property");
  const paidBill = await k.find((l) => l.pairing);
  await typeCode(paidBill.pairing.code.replace(/.$/, (c) => (c === "0" ? "1" : "0")));
  await payStatus(/校验符不符/);
  await noEnglish("a mistyped code", allowed);
  await shot("zh-07-mistyped");
  const unknownQr = path.join(shots, "unknown-kiosk-qr.png");
  await QRCode.toFile(unknownQr, "posfee://pair/kiosk-99/00112233445566778899aabbccddeeff", { width: 300, margin: 4 });
  await (await page.$('[data-testid="photo"]')).uploadFile(unknownQr);
  await payStatus(/PAIRING_GONE/);
  await noEnglish("an unknown kiosk", allowed);
  await shot("zh-08-unknown-kiosk");

  // Paid, on a bill with long amounts and periods.
  allowed = [...allowed, ...billWords(paidBill.bill)];
  await typeCode(paidBill.pairing.code);
  await confirmScreen("zh: paid", false);
  await linesShown("the confirm screen in Chinese", paidBill.bill, true);
  await oneLine("the confirm screen in Chinese");
  await noEnglish("the confirm screen", allowed);
  await shot("zh-09-confirm");
  await page.click('[data-testid="confirm"]');
  check((await outcome()) === "paid", "zh: paid");
  await oneLine("the paid screen in Chinese");
  await noEnglish("paid", allowed);
  await shot("zh-10-paid");
  check((await k.end()).code === 0, "zh: the kiosk printed the receipt");
  await typeCode(paidBill.pairing.code);
  await payStatus(/PAIRING_GONE/);
  await noEnglish("a used code", allowed);

  // Declined, cancelled at the kiosk, left until the kiosk stopped waiting.
  const ending = async (name, account, act, want, extra = []) => {
    const kk = kiosk(`zh-${name}`, account, extra);
    const b = await kk.find((l) => l.pairing);
    await typeCode(b.pairing.code);
    await confirmScreen(`zh: ${name}`, false);
    await act(kk);
    check((await outcome()) === want, `zh: ${name}: ${want}`);
    await calmEnding(`zh: ${name}`, want);
    await noEnglish(name, [...allowed, ...billWords(b.bill)]);
    await shot(`zh-11-${name}`);
    await kk.end();
  };
  await ending("declined", "W-000021", () => page.click('[data-testid="decline"]'), "declined");
  await ending("cancelled", "W-000025", (kk) => kk.child.kill("SIGINT"), "ended");
  await ending("no-receipt", "W-000029", () => {}, "ended", ["--receipt-wait-secs", "2"]);
  k = kiosk("zh-expired-pairing", "W-000033", ["--pairing-ttl-secs", "1"]);
  const expiredCode = (await k.find((l) => l.pairing)).pairing.code;
  await k.end();
  await typeCode(expiredCode);
  await payStatus(/PAIRING_GONE/);
  await noEnglish("an expired pairing", allowed);
  await shot("zh-12-expired-pairing");

  // The wallet code expires (shown for 2 s here); one tap shows a fresh one.
  await page.evaluate(() => localStorage.setItem("posfeeWalletTtlMs", "2000"));
  await nav("code", '[data-testid="show-code"]');
  await page.click('[data-testid="show-code"]');
  await page.waitForSelector('[data-testid="wallet-typed"]');
  const oldCode = await page.$eval('[data-testid="wallet-typed"]', (e) => e.getAttribute("data-code"));
  check((await outcome()) === "expired", "zh: the wallet code expired");
  await calmEnding("zh: the wallet code expired", "expired");
  await noEnglish("the wallet code expired", allowed);
  await shot("zh-13-code-expired");
  await page.evaluate(() => localStorage.removeItem("posfeeWalletTtlMs"));
  await page.click('[data-testid="new-code"]');
  await page.waitForSelector('[data-testid="wallet-typed"]', { timeout: 5_000 });
  const newCode = await page.$eval('[data-testid="wallet-typed"]', (e) => e.getAttribute("data-code"));
  check(!!newCode && newCode !== oldCode, `one tap shows a new wallet code (${oldCode} → ${newCode})`);
  await noEnglish("the new wallet code", allowed);
  await shot("zh-14-new-code");

  await nav("receipts", '[data-testid="receipts"]');
  await page.$$eval("details", (ds) => ds.forEach((d) => (d.open = true)));
  await oneLine("the receipts in Chinese");
  await noEnglish("the receipts, opened", allowed);

  // Revoked: the phone says why and what to do, and a new key gets it back on.
  await meScreen();
  const [device] = await ids();
  posfee("keys", "revoke", "device", device);
  await page.waitForSelector('[data-testid="new-key"]', { timeout: STEP_MS });
  const banner = await text('[data-testid="bus-banner"]');
  check(/吊销/.test(banner) && /生成新密钥/.test(banner) && !/清除|删除|clear/i.test(banner), `the revoked phone says why and what to do: ${banner}`);
  await noEnglish("the revoked phone", allowed);
  await shot("zh-15-revoked");
  await page.click('[data-testid="new-key"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="bus-state"]')?.textContent === "已连接", { timeout: STEP_MS });
  await meScreen();
  allowed = [...allowed, ...(await ids())];
  check((await text('[data-testid="device-id"]')) !== device, `a new key made and enrolled: ${await text('[data-testid="device-id"]')}`);
  // Paygate knows the payer by the device key that signs, not the bus key: after a new bus
  // key the payer still corrects their details.
  await page.click('[data-testid="edit"]');
  await page.waitForSelector('[data-testid="amend-save"]');
  await retype("#f-name", NAME_2);
  await page.click('[data-testid="amend-save"]');
  await page.waitForSelector('[data-testid="me-status"]', { timeout: STEP_MS });
  const saved = await text('[data-testid="me-status"]');
  check(/已在支付平台保存/.test(saved), `a correction after a new bus key is saved: ${saved}`);
  check((await text('[data-testid="name"]')) === NAME_2, `the name corrected after a new key is shown: ${await text('[data-testid="name"]')}`);
  await noEnglish("a correction after a new key", allowed);
  await shot("zh-15b-edit-new-key");

  // The system gone: the phone says so, and that it keeps trying.
  up.kill("SIGINT");
  await page.waitForFunction(() => /未连接/.test(document.querySelector('[data-testid="bus-banner"]')?.textContent ?? ""), { timeout: STEP_MS });
  await noEnglish("the system gone", allowed);
  await shot("zh-16-offline");
  await context.close();
}

/**
 * Another phone enrols over WebSocket (as the app does, without the app), then is refused
 * another phone's wallet codes and the ledger's subject, as over TCP (the same identity
 * service decides both).
 */
async function wsPermissions(wsUrl, otherPublicKey) {
  const kp = createUser();
  const device = `ph${kp.getPublicKey().slice(2, 10).toLowerCase()}`;
  const other = `ph${otherPublicKey.slice(2, 10).toLowerCase()}`;
  const opts = { servers: wsUrl, authenticator: nkeyAuthenticator(kp.getSeed()), inboxPrefix: `_INBOX.device.${device}` };
  // A new key carries a stamp (docs/contract.md section 1): without one it is not let in.
  const refusedUnstamped = await wsconnect(opts).then(
    async (c) => (await c.close(), false),
    () => true,
  );
  check(refusedUnstamped, "over WebSocket a new key without a stamp is refused");
  const stamp = findStamp(kp.getPublicKey(), 16);
  const first = await wsconnect({ ...opts, name: `e2e stamp=${stamp}` });
  const proof = kp.sign(new TextEncoder().encode(`posfee.enrol.v1:${kp.getPublicKey()}`));
  const enrolled = await first.request(`posfee.identity.enrol.${device}`, encode({ nkey: kp.getPublicKey(), proof, stamp }), { timeout: 5000 }).then(
    (m) => !m.headers?.get("Nats-Service-Error"),
    () => false,
  );
  check(enrolled, "over WebSocket an unknown key may enrol itself");
  await first.close();
  const nc = await wsconnect(opts);
  const errors = [];
  void (async () => {
    for await (const s of nc.status()) if (s.type === "error") errors.push(String(s.error?.message ?? s.error));
  })();
  const key = await nc.request(`posfee.keys.get.device.${device}`, encode({ purpose: "bill", key_id: "no-such-key" }), { timeout: 5000 }).then(
    (m) => m.headers?.get("Nats-Service-Error-Code") === "401",
    () => false,
  );
  check(key, "over WebSocket a phone may ask the key directory (an unknown key is 401)");
  nc.subscribe(`posfee.wallet.${other}.>`);
  nc.publish("posfee.ledger.settle", new Uint8Array([0xc0]));
  nc.subscribe(`posfee.wallet.${device}.>`);
  await nc.flush();
  await new Promise((r) => setTimeout(r, 300));
  check(
    errors.some((e) => /subscription/i.test(e) && e.includes(`posfee.wallet.${other}`)),
    `over WebSocket a phone may not hear another phone's wallet codes (${errors.join("; ")})`,
  );
  check(errors.some((e) => /publish/i.test(e) && e.includes("posfee.ledger.settle")), "over WebSocket a phone may not settle");
  check(!errors.some((e) => e.includes(`posfee.wallet.${device}`)), "over WebSocket a phone hears its own wallet codes");
  await nc.close();
}

/** A stamp of `bits` leading zero bits for `nkey`, as the contract describes it (section 1). */
function findStamp(nkey, bits) {
  for (let n = 0; ; n++) {
    const d = createHash("sha256").update(`posfee.stamp.v1:${nkey}:${n}`).digest();
    let z = 0;
    for (const b of d) {
      if (b === 0) {
        z += 8;
        continue;
      }
      z += Math.clz32(b) - 24;
      break;
    }
    if (z >= bits) return n;
  }
}

/** Every (file, secret, form) found under `dir`, skipping `skip`. */
function scan(dir, skip) {
  const forms = [];
  for (const s of [NAME, MISSPELT, NATIONAL_ID, BANK_ACCOUNT, NAME_2, NATIONAL_ID_2, BANK_ACCOUNT_2]) {
    const b = Buffer.from(s, "utf8");
    forms.push([s, "utf-8", b]);
    forms.push([s, "hex", Buffer.from(b.toString("hex"))]);
    forms.push([s, "HEX", Buffer.from(b.toString("hex").toUpperCase())]);
    forms.push([s, "utf-16le", Buffer.from(s, "utf16le")]);
    forms.push([s, "percent", Buffer.from(encodeURIComponent(s))]);
    for (let off = 0; off < 3; off++) {
      const enc = Buffer.concat([Buffer.alloc(off), b]).toString("base64");
      const skipChars = off === 0 ? 0 : 4;
      const whole = Math.floor(((off + b.length) / 3)) * 4;
      if (whole - skipChars >= 8) forms.push([s, `base64+${off}`, Buffer.from(enc.slice(skipChars, whole))]);
    }
  }
  const hits = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (skip.some((s) => p.startsWith(s))) continue;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const bytes = fs.readFileSync(p);
        for (const [s, form, needle] of forms) if (bytes.includes(needle)) hits.push(`${path.relative(dir, p)}: ${s} (${form})`);
      }
    }
  };
  walk(dir);
  for (const f of fs.readdirSync(out)) {
    const bytes = fs.readFileSync(path.join(out, f));
    if (f === "console.log") continue;
    for (const [s, form, needle] of forms) if (bytes.includes(needle)) hits.push(`process output ${f}: ${s} (${form})`);
  }
  return hits;
}

// The whole test takes seconds; a hang must not hold CI.
const TOTAL_MS = 180_000;
setTimeout(() => {
  log(`FAIL the browser test did not finish within ${TOTAL_MS / 1000} s`);
  cleanup();
  console.log(`browser: ${passes} passed, ${failures + 1} failed`);
  process.exit(1);
}, TOTAL_MS).unref();

try {
  await main();
} catch (e) {
  failures++;
  log(`FAIL ${e.stack ?? e}`);
  await page?.screenshot({ path: path.join(shots, "zz-failure.png"), fullPage: true }).catch(() => {});
} finally {
  cleanup();
}
if (failures) log(`screenshots in ${shots}; the data dir and processes' output kept in ${tmp}`);
else {
  log(`screenshots in ${shots}`);
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`browser: ${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
