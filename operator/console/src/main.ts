// The operator's console: alerts, collections per biller, kiosks, live events with filters
// and the daily statements, refreshed on their own clocks while the page is open.

import "tabulator-tables/dist/css/tabulator_simple.min.css";
import "./style.css";
import { ApiError, get, post, whenSignedOut, type Overview } from "./api";
import { clear, h } from "./dom";
import { lang, setLang, setZone, t } from "./i18n";
import { signInForm } from "./signin";
import { alertsPanel } from "./panels/alerts";
import { collectionsPanel } from "./panels/collections";
import { eventsPanel } from "./panels/events";
import { kiosksPanel } from "./panels/kiosks";
import { statementsPanel } from "./panels/statements";

const app = document.getElementById("app")!;
/** Timers of the panels on screen, stopped when the page is rebuilt. */
let timers: number[] = [];

export interface Panel {
  element: HTMLElement;
  /** Loads what it shows; called at once and then every `every` ms. */
  refresh: () => Promise<void>;
  every: number;
}

function stopTimers(): void {
  timers.forEach((id) => clearInterval(id));
  timers = [];
}

function langButton(rebuild: () => void): HTMLElement {
  const b = h("button", { type: "button", id: "lang", class: "lang" }, t("lang"));
  b.addEventListener("click", () => {
    setLang(lang === "zh" ? "en" : "zh");
    rebuild();
  });
  return b;
}

function showSignIn(): void {
  stopTimers();
  clear(app, h("header", { class: "bar" }, h("span", { class: "brand" }, "posfee"), langButton(showSignIn)), signInForm(start));
}

async function start(): Promise<void> {
  let overview: Overview;
  try {
    overview = await get<Overview>("/api/overview");
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return showSignIn();
    clear(app, h("p", { class: "error" }, t("unavailable", { reason: String(e) })));
    return;
  }
  setZone(overview.time_zone);
  stopTimers();
  const signOut = h("button", { type: "button", id: "sign-out" }, t("signOut"));
  signOut.addEventListener("click", async () => {
    await post("/api/sign-out", {}).catch(() => undefined);
    showSignIn();
  });
  const panels: Panel[] = [
    alertsPanel(),
    collectionsPanel(overview),
    kiosksPanel(),
    eventsPanel(overview),
    statementsPanel(overview),
  ];
  clear(
    app,
    h(
      "header",
      { class: "bar" },
      h("span", { class: "brand" }, t("title")),
      h("span", { class: "who", id: "who" }, `${t("signedInAs")} ${overview.operator.slice(0, 10)}…`),
      langButton(() => void start()),
      signOut,
    ),
    h("main", {}, ...panels.map((p) => p.element)),
  );
  for (const p of panels) {
    void p.refresh();
    timers.push(window.setInterval(() => void p.refresh(), p.every));
  }
}

setLang(lang);
whenSignedOut(showSignIn);
void start();
