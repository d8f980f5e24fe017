import { TabulatorFull as Tabulator } from "tabulator-tables";
import { get, type EventRow, type EventsPage, type Overview } from "../api";
import { h } from "../dom";
import { localTime, money, t, word } from "../i18n";
import type { Panel } from "../main";
import { frame, updating } from "./util";

const OUTCOMES = ["paid", "declined", "cancelled", "expired", "not_paid", "no_receipt", "voided", "refunded"];
const LIMIT = 500;

type Filters = Record<"kind" | "tenant" | "terminal" | "account" | "payment" | "outcome", string>;

function select(id: string, options: [string, string][]): HTMLSelectElement {
  return h("select", { id }, ...options.map(([value, label]) => h("option", { value }, label)));
}

/** The event stream, newest first, filtered; new events arrive while `live` is ticked. */
export function eventsPanel(overview: Overview): Panel {
  const fields = {
    kind: select("f-kind", [["", t("any")], ...overview.event_kinds.map((k): [string, string] => [k, k])]),
    tenant: select("f-tenant", [["", t("any")], ...overview.tenants.map((x): [string, string] => [x.id, x.name])]),
    terminal: h("input", { id: "f-terminal", placeholder: "kiosk-01" }),
    account: h("input", { id: "f-account", placeholder: "3-1-1202" }),
    payment: h("input", { id: "f-payment", placeholder: "uuid" }),
    outcome: select("f-outcome", [["", t("any")], ...OUTCOMES.map((o): [string, string] => [o, word(o)])]),
  };
  const live = h("input", { type: "checkbox", id: "f-live", checked: true });
  const apply = h("button", { type: "submit", id: "f-apply" }, t("apply"));
  const form = h(
    "form",
    { class: "filters", id: "event-filters" },
    h("label", {}, t("kind"), fields.kind),
    h("label", {}, t("tenant"), fields.tenant),
    h("label", {}, t("terminal"), fields.terminal),
    h("label", {}, t("account"), fields.account),
    h("label", {}, t("payment"), fields.payment),
    h("label", {}, t("outcome"), fields.outcome),
    h("label", { class: "inline" }, live, t("live")),
    apply,
  );
  const holder = h("div", { id: "event-table" });
  const { element, status } = frame("events", t("events"), form, holder);
  const table = new Tabulator(holder, {
    layout: "fitColumns",
    height: "420px",
    placeholder: t("noEvents"),
    index: "seq",
    columns: [
      { title: t("seq"), field: "seq", width: 70, hozAlign: "right" },
      { title: t("time"), field: "time", width: 170, formatter: (c) => localTime(String(c.getValue())) },
      { title: t("kind"), field: "kind", width: 150 },
      { title: t("tenant"), field: "tenant", width: 130 },
      { title: t("terminal"), field: "terminal", width: 100 },
      { title: t("account"), field: "account", width: 100 },
      {
        title: t("amount"),
        field: "amount_fen",
        width: 110,
        hozAlign: "right",
        formatter: (c) => (c.getValue() == null ? "" : money(Number(c.getValue()))),
      },
      { title: t("outcome"), field: "outcome", width: 100, formatter: (c) => (c.getValue() ? word(String(c.getValue())) : "") },
      { title: t("summary"), field: "summary", formatter: "plaintext", tooltip: true },
    ],
  });
  let built = false;
  table.on("tableBuilt", () => (built = true));
  let through: number | undefined;
  let shown: Filters | undefined;
  const current = (): Filters => ({
    kind: fields.kind.value,
    tenant: fields.tenant.value,
    terminal: fields.terminal.value.trim(),
    account: fields.account.value.trim(),
    payment: fields.payment.value.trim(),
    outcome: fields.outcome.value,
  });
  const load = async (fresh: boolean) => {
    const filters = current();
    const page = await get<EventsPage>("/api/events", { ...filters, after: fresh ? undefined : through, limit: LIMIT });
    const rows: EventRow[] = page.events.slice().reverse();
    if (!built) await new Promise<void>((r) => table.on("tableBuilt", () => r()));
    if (fresh) await table.replaceData(rows);
    else if (rows.length > 0) await table.addData(rows, true);
    through = page.through;
    shown = filters;
    holder.dataset.rows = String(table.getDataCount());
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void updating(status, () => load(true));
  });
  const refresh = () => {
    if (shown !== undefined && !live.checked) return Promise.resolve();
    return updating(status, () => load(shown === undefined));
  };
  return { element, refresh, every: 3_000 };
}
