// End-to-end: the phone's web app in headless Chromium against a real `posfee up`, with the
// kiosk played by the pos-agent binary. Registers (a refusal first, then corrected), pays in
// mode A from a photo of the kiosk's QR code and from the typed code, declines once (the kiosk
// hears it), pays in mode B (the kiosk reads the phone's code), checks receipts on both sides,
// and scans the data dir for the payer's identity outside paygate. Screenshots of every screen
// go to target/web-e2e/.
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
const NATIONAL_ID = "11010519491231002X";
const BANK_ACCOUNT = "6222600260001072444";
const BAD_LUHN = "6222600260001072445";
const BAD_NATIONAL_ID = "110105194912310021";
const TERMINAL = "kiosk-07";

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
function kiosk(name, account, extra = []) {
  const child = spawn(
    bin("pos-agent"),
    ["--terminal-id", TERMINAL, "--data-dir", data, "--json", "pay", "--tenant", "city-water", "--account", account, ...extra],
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
  page = await browser.newPage();
  await page.setViewport({ width: 360, height: 740, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  page.on("console", (m) => {
    fs.appendFileSync(path.join(out, "console.log"), `${m.type()}: ${m.text()}\n`);
    // The app runs under the strict policy posfee up serves it with: anything it blocks is a bug.
    if (/Content Security Policy|Refused to (load|execute|apply|connect|frame)/i.test(m.text())) {
      failures++;
      log(`FAIL blocked by the Content-Security-Policy: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => {
    failures++;
    log(`FAIL page error: ${e.message}`);
  });
  const cdp = await page.createCDPSession();
  await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: shots });
  // Every screen is photographed, and must fit a 360 px phone without sideways scrolling.
  const shot = async (name) => {
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check(width <= 360, `${name} fits 360 px (${width} px wide)`);
    await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  };
  const text = (sel) => page.$eval(sel, (e) => e.textContent ?? "");
  const busState = () => text('[data-testid="bus-state"]');

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

  // ---- registration: refused locally, refused by paygate, corrected ----
  // Leave the field first: its check shows on blur and moves the button down.
  const submitRegister = async () => {
    await page.keyboard.press("Tab");
    await page.click('[data-testid="register"]');
  };
  await page.waitForSelector("#f-name");
  await shot("02-register");
  await page.type("#f-name", NAME);
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
  await page.$eval("#f-national_id", (e) => (e.value = ""));
  await page.type("#f-national_id", BAD_NATIONAL_ID);
  await submitRegister();
  await page.waitForFunction(() => /INVALID_FIELD/.test(document.querySelector('[data-testid="register-status"]')?.textContent ?? ""), { timeout: STEP_MS });
  check(/check character/.test(await text('[data-testid="register-status"]')), "paygate's refusal is shown clearly");
  await shot("04-register-refused-by-paygate");
  await page.evaluate(() => localStorage.removeItem("posfeeSkipChecks"));
  await page.$eval("#f-national_id", (e) => (e.value = ""));
  await page.type("#f-national_id", NATIONAL_ID);
  await page.$eval("#f-bank_account", (e) => (e.value = ""));
  await page.type("#f-bank_account", BANK_ACCOUNT);
  await submitRegister();
  await page.waitForSelector('[data-testid="balance"]', { timeout: STEP_MS });
  check((await text('[data-testid="balance"]')) === "10000.00 CNY", "corrected and registered; sandbox balance 10000.00 CNY");
  await shot("05-registered");

  const payScreen = async () => {
    await page.click('[data-testid="nav-pay"]');
    await page.waitForSelector('[data-testid="typed-code"]');
  };
  const confirmScreen = async (name) => {
    await page.waitForSelector('[data-testid="verified"]', { timeout: STEP_MS });
    check(/Signature verified/.test(await text('[data-testid="verified"]')), `${name}: the bill's signature verified on the phone`);
    check((await text('[data-testid="payee"]')).length > 0, `${name}: payee ${await text('[data-testid="payee"]')}`);
  };
  const outcome = async () => {
    await page.waitForSelector('[data-testid="outcome"]', { timeout: 70_000 });
    return page.$eval('[data-testid="outcome"]', (e) => e.getAttribute("data-outcome"));
  };
  let paidFen = 0;
  const receiptOf = async (k, name) => {
    const { code, last } = await k.end();
    const pid = last?.receipt?.payment_id;
    check(code === 0 && !!pid, `${name}: the kiosk printed the receipt (exit ${code})`);
    const phoneHas = await page.$eval('[data-testid="receipt"]', (e) => e.textContent ?? "");
    check(!!pid && phoneHas.includes(pid), `${name}: the phone's receipt has the kiosk's payment id ${pid}`);
    paidFen += last?.receipt?.total?.fen ?? 0;
  };

  // ---- mode A, from a photo of the kiosk's QR code ----
  await payScreen();
  await shot("06-pay");
  let k = kiosk("mode-a-qr", "W-000001");
  const pairing = (await k.find((l) => l.pairing)).pairing;
  const qrFile = path.join(shots, "kiosk-qr.png");
  await QRCode.toFile(qrFile, pairing.uri, { width: 300, margin: 4 });
  const photo = await page.$('[data-testid="photo"]');
  await photo.uploadFile(qrFile);
  await confirmScreen("mode A (QR)");
  await shot("07-confirm");
  await page.click('[data-testid="confirm"]');
  check((await outcome()) === "paid", "mode A (QR): paid");
  await shot("08-paid");
  await receiptOf(k, "mode A (QR)");

  // ---- the same code again: the pairing is gone ----
  await payScreen();
  await (await page.$('[data-testid="photo"]')).uploadFile(qrFile);
  await page.waitForFunction(() => /PAIRING_GONE/.test(document.querySelector('[data-testid="pay-status"]')?.textContent ?? ""), {
    timeout: STEP_MS,
  });
  check(true, "a used code is gone (no responders): PAIRING_GONE");

  // ---- mode A, typed code ----
  await payScreen();
  k = kiosk("mode-a-typed", "W-000005");
  const typedCode = (await k.find((l) => l.pairing)).pairing.code;
  await page.type('[data-testid="typed-code"]', typedCode.toLowerCase());
  await page.click('[data-testid="join"]');
  await confirmScreen("mode A (typed)");
  // Switching the language while deciding keeps the bill: the same bill in Chinese, then back.
  const totalBefore = await text('[data-testid="total"]');
  await page.click('[data-testid="lang"]');
  await page.waitForFunction(() => document.documentElement.lang === "zh-CN");
  await page.waitForFunction(() => /签名/.test(document.querySelector('[data-testid="verified"]')?.textContent ?? ""), { timeout: 5_000 });
  check((await text('[data-testid="total"]')) === totalBefore, `the bill is still there in Chinese (${totalBefore})`);
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
  check((await outcome()) === "paid", "mode A (typed, lower case): paid after switching language twice");
  await receiptOf(k, "mode A (typed)");

  // ---- a mistyped code is refused on the phone ----
  await payScreen();
  await page.type('[data-testid="typed-code"]', typedCode.replace(/.$/, (c) => (c === "0" ? "1" : "0")));
  await page.click('[data-testid="join"]');
  await page.waitForFunction(() => /check symbols/.test(document.querySelector('[data-testid="pay-status"]')?.textContent ?? ""));
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
  await shot("09-declined");
  const dec = await k.end();
  check(dec.code === 3 && JSON.stringify(dec.last).includes("declined"), `the kiosk heard the decline at once (${Date.now() - declineStarted} ms, ${JSON.stringify(dec.last)})`);

  // ---- cancelled at the kiosk while the payer decides: the phone is told at once ----
  await payScreen();
  k = kiosk("cancelled", "W-000017");
  await page.type('[data-testid="typed-code"]', (await k.find((l) => l.pairing)).pairing.code);
  await page.click('[data-testid="join"]');
  await confirmScreen("cancel at the kiosk");
  await new Promise((r) => setTimeout(r, 300));
  k.child.kill("SIGINT");
  check((await outcome()) === "ended", "the kiosk cancelled: the phone says the payment ended at the kiosk");
  await shot("10-ended-at-kiosk");
  const can = await k.end();
  check(can.code === 130, `the kiosk closed the bill and stopped (${can.code}, ${JSON.stringify(can.last)})`);

  // ---- mode B: the kiosk reads the phone's code ----
  await page.click('[data-testid="nav-code"]');
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

  // ---- receipts, shared as an image; Chinese ----
  await page.click('[data-testid="nav-receipts"]');
  await page.waitForSelector('[data-testid="receipts"]');
  check((await page.$$('[data-testid="receipt"]')).length === 3, "three receipts kept on the phone");
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
  await shot("14-receipts-zh");
  await page.click('[data-testid="nav-me"]');
  await page.waitForSelector('[data-testid="balance"]');
  const bal = await text('[data-testid="balance"]');
  const left = 1_000_000 - paidFen;
  const want = `${Math.floor(left / 100)}.${String(left % 100).padStart(2, "0")} CNY`;
  check(bal === want, `the balance went down by the three payments: ${bal}`);
  await shot("15-me-zh");
  await page.reload({ waitUntil: "networkidle0" });
  await page.waitForSelector("nav");
  check((await page.$eval("html", (e) => e.lang)) === "zh-CN", "the language choice is kept");
  await page.click('[data-testid="nav-receipts"]');
  await page.waitForSelector('[data-testid="receipts"]');
  check((await page.$$('[data-testid="receipt"]')).length === 3, "the receipts are kept across a reload");
  await browser.close();

  // ---- nothing of the payer outside paygate and the phone ----
  up.kill("SIGINT");
  await new Promise((r) => up.on("exit", r));
  const found = scan(data, [path.join(data, "paygate")]);
  check(found.length === 0, `no personal data outside paygate and the phone${found.length ? `: ${found.join("; ")}` : ""}`);
  check(scan(path.join(data, "paygate"), []).length > 0, "the scan does find the identity at paygate");
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
  for (const s of [NAME, NATIONAL_ID, BANK_ACCOUNT]) {
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
