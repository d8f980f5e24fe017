// End-to-end: the operator's console in headless Chromium against a real `posfee up`. Kiosks
// played by the pos-agent binary, the payer by the companion CLI: two payments to two
// billers, one bill declined, one kiosk revoked. Then the console: its data refused before
// sign-in (and the same request answered after), a key that is not the operator's refused,
// sign-in with the operator's key file; alerts, today's chart total against the books, the
// revoked kiosk, the events filtered by payment and by outcome, Chinese and English, a
// statement refused before its day ends. Last, the system is started again with the ledger's
// clock a day ahead (libfaketime, for the ledger process only), and yesterday's statement is
// downloaded and checked against the ledger's hash. Screenshots go to docs/console/ when
// POSFEE_CONSOLE_SHOTS=docs, else to target/console-e2e/.
//
// Needs: the workspace's binaries built, the console built (npm run build), Debian's chromium
// (CHROMIUM=/path overrides) and libfaketime (scripts/setup installs both).
import { spawn, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createInterface } from "node:readline";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import puppeteer from "puppeteer-core";
import { createUser } from "@nats-io/nkeys";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../../..");
const targetDir = process.env.CARGO_TARGET_DIR || path.join(repo, "target");
const bin = (name) => path.join(targetDir, "debug", name);
const shots = process.env.POSFEE_CONSOLE_SHOTS === "docs" ? path.join(repo, "docs/console") : path.join(targetDir, "console-e2e");
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";
const FAKETIME_LIB = process.env.FAKETIME_LIB || "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const STEP_MS = 30_000;
const KIOSK = "kiosk-01";
const STOLEN = "kiosk-09";

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

fs.mkdirSync(shots, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "posfee-console-e2e-"));
const data = path.join(tmp, "data");
const out = path.join(tmp, "out");
fs.mkdirSync(out);
process.env.POSFEE_NATS_CONF = path.join(repo, "nats.conf");

const children = [];
function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
}
process.on("exit", cleanup);

function posfee(...args) {
  return execFileSync(bin("posfee"), [...args, "--data-dir", data], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Starts `posfee up` (with more arguments) and resolves with its ready line. */
async function up(extra = []) {
  const child = spawn(bin("posfee"), ["up", "--data-dir", data, "--port", "0", ...extra], {
    stdio: ["ignore", "pipe", fs.openSync(path.join(out, "up.err"), "a")],
  });
  children.push(child);
  const exited = new Promise((r) => child.on("exit", r));
  const ready = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("posfee up did not become ready")), 60_000);
    createInterface({ input: child.stdout }).on("line", (l) => {
      fs.appendFileSync(path.join(out, "up.out"), `${l}\n`);
      if (l.startsWith("ready:")) {
        clearTimeout(t);
        resolve(l);
      }
    });
    child.on("exit", (c) => reject(new Error(`posfee up exited ${c}; see ${out}`)));
  });
  const stop = async () => {
    child.kill("SIGINT");
    await exited;
  };
  return { ready, stop };
}

/** One payment: the kiosk issues the bill, the phone joins with the code and pays or declines. */
async function pay(tenant, account, { decline = false } = {}) {
  const kiosk = spawn(
    bin("pos-agent"),
    ["--terminal-id", KIOSK, "--data-dir", data, "--json", "pay", "--tenant", tenant, "--account", account],
    { stdio: ["ignore", "pipe", fs.openSync(path.join(out, `kiosk-${account}.err`), "w")] },
  );
  children.push(kiosk);
  const lines = [];
  createInterface({ input: kiosk.stdout }).on("line", (l) => {
    try {
      lines.push(JSON.parse(l));
    } catch {
      /* a line for people */
    }
  });
  const exited = new Promise((r) => kiosk.on("exit", r));
  const deadline = Date.now() + STEP_MS;
  let code;
  while (!code) {
    code = lines.map((l) => JSON.stringify(l).match(new RegExp(`${KIOSK}:[0-9A-Z-]+`))?.[0]).find(Boolean);
    if (kiosk.exitCode !== null || Date.now() > deadline) throw new Error(`the kiosk showed no code: ${JSON.stringify(lines)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  let phone;
  try {
    phone = execFileSync(
      bin("companion"),
      ["--home", path.join(tmp, "phone"), "--data-dir", data, "pay", code, ...(decline ? [] : ["--yes"])],
      { encoding: "utf8", input: decline ? "n\n" : "", stdio: ["pipe", "pipe", "pipe"] },
    );
  } catch (e) {
    // Declining ends the phone's command with a non-zero status.
    phone = `${e.stdout}${e.stderr}`;
  }
  fs.writeFileSync(path.join(out, `phone-${account}.out`), phone);
  await exited;
  const receipt = lines.find((l) => l.receipt || l.payment_id);
  return { lines, phone, receipt };
}

let page;
async function shot(name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

async function api(pathname) {
  return page.evaluate(async (p) => {
    const r = await fetch(p, { credentials: "same-origin" });
    let body;
    try {
      body = await r.json();
    } catch {
      body = null;
    }
    return { status: r.status, body };
  }, pathname);
}

/** Waits until `fn` (run in the page) returns something truthy; returns it. */
async function until(fn, arg, what) {
  try {
    const h = await page.waitForFunction(fn, { timeout: STEP_MS, polling: 200 }, arg);
    return await h.jsonValue();
  } catch (e) {
    await shot(`failed-${what.replace(/\W+/g, "-")}`);
    throw new Error(`${what}: ${e.message}`);
  }
}

async function signIn(consoleUrl) {
  await page.goto(consoleUrl, { waitUntil: "networkidle0" });
  const input = await page.waitForSelector("#key-file");
  await input.uploadFile(path.join(data, "creds/operator.nk"));
  await page.click("#sign-in");
  await page.waitForSelector("#kiosk-table .tabulator-row", { timeout: STEP_MS });
}

async function main() {
  const first = await up();
  const consoleUrl = /operator console at (http:\/\/\S+)/.exec(first.ready)?.[1];
  check(!!consoleUrl && fs.readFileSync(path.join(data, "run/console.url"), "utf8").trim() === consoleUrl, `posfee up serves the console: ${consoleUrl}`);
  posfee("import", "accounts", path.join(repo, "tests/samples/accounts.csv"), "--quiet");
  posfee("import", "readings", path.join(repo, "tests/samples/readings.csv"), "--quiet");
  posfee("keys", "terminal", KIOSK);
  posfee("keys", "terminal", STOLEN);
  posfee("keys", "revoke", "terminal", STOLEN);
  execFileSync(bin("companion"), [
    "--home", path.join(tmp, "phone"), "--data-dir", data, "register",
    "--name", "测试运营姓名", "--national-id", "11010519491231002X", "--bank-account", "6222600260001072444",
  ], { stdio: "ignore" });
  const water = await pay("city-water", "W-000001");
  const property = await pay("acme-property", "1-1-0000");
  await pay("city-water", "W-000005", { decline: true });
  log("two payments and a declined bill made");

  // The books' own figure for today, to hold the chart's total against.
  const settled = JSON.parse(posfee("reconcile", "--json"));
  check(settled.settled === 2 && settled.differences.length === 0, `the books hold 2 settled payments, no differences (${settled.settled})`);
  const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
  let booksFen = 0;
  for (const tenant of ["city-water", "acme-property"]) {
    const day = JSON.parse(posfee("reconcile", "--json", "--tenant", tenant, "--date", today)).day;
    booksFen += day.net_fen;
  }
  check(booksFen > 0, `the books' net for today: ${booksFen} fen`);
  const paymentId = JSON.parse(posfee("events", "--since", "start", "--no-follow", "--json", "--kind", "payment.settled", "--tenant", "city-water").trim().split("\n")[0]).event.body.data.payment_id;

  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--lang=en-US", "--disable-dev-shm-usage"],
  });
  try {
    page = await browser.newPage();
    await page.emulateTimezone("Asia/Shanghai");
    await page.setViewport({ width: 1280, height: 900 });
    const cspErrors = [];
    page.on("console", (m) => {
      if (m.type() === "error" && /Content Security Policy|Refused/.test(m.text())) cspErrors.push(m.text());
    });

    // ---- sign-in ----
    await page.goto(consoleUrl, { waitUntil: "networkidle0" });
    await page.waitForSelector("#key-file");
    await page.evaluate(() => localStorage.setItem("posfee-console-lang", "en"));
    await page.reload({ waitUntil: "networkidle0" });
    await page.waitForSelector("#key-file");
    await shot("01-sign-in");
    const before = await api("/api/kiosks");
    check(before.status === 401 && before.body?.code === "SIGN_IN", `the console's data is refused before sign-in (${before.status} ${before.body?.code})`);
    // A key that is not the operator's: refused, and still no data.
    const stranger = createUser();
    const seedFile = path.join(tmp, "stranger.nk");
    fs.writeFileSync(seedFile, new TextDecoder().decode(stranger.getSeed()));
    await (await page.$("#key-file")).uploadFile(seedFile);
    await page.click("#sign-in");
    const refused = await until(() => document.querySelector("#sign-in-error")?.textContent, null, "a stranger's key refused");
    check(refused.includes("NOT_AN_OPERATOR"), `another key is refused: ${refused}`);
    check((await api("/api/kiosks")).status === 401, "still no data after the refused key");
    await shot("02-sign-in-refused");
    await signIn(consoleUrl);
    const afterSignIn = await api("/api/kiosks");
    check(afterSignIn.status === 200 && Array.isArray(afterSignIn.body), `the same request is answered once signed in (${afterSignIn.status})`);

    // ---- kiosks ----
    const states = await until(
      (k) => {
        const rows = [...document.querySelectorAll("#kiosk-table .tabulator-row")].map((r) => r.textContent);
        return rows.some((r) => r.includes(k)) ? rows : null;
      },
      STOLEN,
      "the revoked kiosk listed",
    );
    check(states.some((r) => r.includes(STOLEN) && r.includes("revoked")), `${STOLEN} shows revoked: ${states.join(" | ")}`);
    check(states.some((r) => r.includes(KIOSK) && r.includes("2")), `${KIOSK} shows today's 2 payments`);

    // ---- collections: today's total is the books' ----
    const chartFen = await until(() => document.querySelector("#total-today")?.dataset.fen, null, "today's total");
    check(Number(chartFen) === booksFen, `the chart's total today ${chartFen} fen = the books' ${booksFen} fen`);

    // ---- alerts ----
    const alertText = await until(() => {
      const s = document.querySelector("#reconciled")?.textContent;
      return s ? document.querySelector("#alerts")?.textContent : null;
    }, null, "the alerts");
    check(alertText.includes("Reconciled: 2 settled, 2 captured"), `alerts show the books reconciled: ${alertText.slice(0, 200)}`);
    check(!/Reconcile difference|Stuck hold|Service down/.test(alertText), "no money or service alert on a healthy system");

    // ---- events: all, then by payment, then by outcome ----
    await until(() => Number(document.querySelector("#event-table")?.dataset.rows) > 5, null, "events listed");
    await shot("03-dashboard-en");
    await page.type("#f-payment", paymentId);
    await page.click("#f-apply");
    const byPayment = await until(
      () => {
        const rows = [...document.querySelectorAll("#event-table .tabulator-row")].map((r) => r.textContent);
        return rows.length > 0 && rows.every((r) => !r.includes("acme-property")) ? rows : null;
      },
      null,
      "events of one payment",
    );
    check(byPayment.some((r) => r.includes("payment.settled")) && byPayment.some((r) => r.includes("bill.issued")), `the payment's events, from its bill's issue on (${byPayment.length})`);
    const apiByPayment = await api(`/api/events?payment=${paymentId}`);
    check(apiByPayment.body.events.every((e) => e.tenant === null || e.tenant === "city-water"), "the API's answer holds only that payment's bill");
    await page.$eval("#f-payment", (el) => (el.value = ""));
    await page.select("#f-outcome", "declined");
    await page.click("#f-apply");
    const declined = await until(
      () => {
        const rows = [...document.querySelectorAll("#event-table .tabulator-row")].map((r) => r.textContent);
        return rows.length > 0 && rows.every((r) => r.includes("bill.closed")) ? rows : null;
      },
      null,
      "declined bills",
    );
    check(declined.length === 1 && declined[0].includes("W-000005") && declined[0].includes("declined"), `outcome declined: the one declined bill (${declined.join(" | ")})`);
    await shot("04-events-declined");
    const badOutcome = await api("/api/events?outcome=stolen");
    check(badOutcome.status === 400 && badOutcome.body.field === "outcome" && badOutcome.body.next, `a bad filter is refused with its field: ${JSON.stringify(badOutcome.body)}`);

    // ---- a statement before its day ended ----
    await page.$eval("#s-date", (el, d) => (el.value = d), today);
    await page.click("#s-download");
    const early = await until(() => document.querySelector("#s-result.error")?.textContent, null, "today's statement refused");
    check(/not issued yet|has not ended/.test(early), `today's statement is refused until the day ends: ${early}`);

    // ---- Chinese ----
    await page.select("#f-outcome", "");
    await page.click("#f-apply");
    await page.click("#lang");
    await until(() => document.querySelector("#kiosks h2")?.textContent === "自助终端", null, "Chinese");
    const zhRevoked = await until(() => [...document.querySelectorAll("#kiosk-table .badge.revoked")].map((b) => b.textContent).join(), null, "已吊销");
    check(zhRevoked.includes("已吊销"), "the revoked kiosk in Chinese");
    await until(() => Number(document.querySelector("#event-table")?.dataset.rows) > 5, null, "events again");
    await until(() => document.querySelector("#reconciled")?.textContent.includes("对账"), null, "alerts in Chinese");
    await shot("05-dashboard-zh");
    await page.click("#lang");
    check(cspErrors.length === 0, `no Content-Security-Policy refusals (${cspErrors.join("; ")})`);

    // ---- a day later: yesterday's statement ----
    await first.stop();
    const faked = fs.existsSync(FAKETIME_LIB);
    check(faked, `libfaketime is installed (${FAKETIME_LIB})`);
    // The services from a folder of their own where the ledger runs 25 hours ahead (a day
    // ahead would be before 00:10, when the day's statement is issued, in the first ten
    // minutes of a Shanghai day): libfaketime is preloaded into that one process only.
    const bins = path.join(tmp, "bin");
    fs.mkdirSync(bins);
    for (const s of ["posfee-identity", "posfee-paygate", "posfee-fee-engine", "posfee-query"]) fs.symlinkSync(bin(s), path.join(bins, s));
    fs.writeFileSync(
      path.join(bins, "posfee-ledger"),
      `#!/bin/sh\nLD_PRELOAD=${FAKETIME_LIB} FAKETIME=+25h FAKETIME_DONT_FAKE_MONOTONIC=1 exec ${bin("posfee-ledger")} "$@"\n`,
      { mode: 0o755 },
    );
    const second = await up(["--bin-dir", bins]);
    const secondUrl = /operator console at (http:\/\/\S+)/.exec(second.ready)?.[1];
    await signIn(secondUrl);
    await page.$eval("#s-date", (el, d) => (el.value = d), today);
    await page.select("#s-tenant", "city-water");
    await page.click("#s-download");
    const sha = await until(() => document.querySelector("#s-result")?.dataset.sha256, null, "the statement downloaded");
    const clerkOut = path.join(tmp, "statement.csv");
    posfee("keys", "clerk", "city-water");
    posfee("report", "daily", "--tenant", "city-water", "--date", today, "--out", clerkOut);
    const clerkSha = createHash("sha256").update(fs.readFileSync(clerkOut)).digest("hex");
    check(sha === clerkSha, `the console's statement is the clerk's file, byte for byte (${sha.slice(0, 16)}…)`);
    const statement = await api(`/api/statement?tenant=city-water&date=${today}&format=json`);
    check(statement.status === 200 && statement.body.rows?.length === 1, `the statement lists the day's one city-water payment`);
    await until(() => Number(document.querySelector("#event-table")?.dataset.rows) > 5, null, "events after the restart");
    await until(() => document.querySelector("#reconciled")?.textContent, null, "alerts after the restart");
    await shot("06-statement");
    await second.stop();
  } finally {
    await browser.close();
  }
}

main()
  .catch((e) => {
    failures++;
    log(`FAIL ${e.stack || e}`);
  })
  .finally(() => {
    log(`${passes} passed, ${failures} failed; screenshots in ${shots}; logs in ${out}`);
    cleanup();
    process.exit(failures === 0 ? 0 : 1);
  });
