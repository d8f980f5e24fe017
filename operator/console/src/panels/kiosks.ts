import { TabulatorFull as Tabulator } from "tabulator-tables";
import { get, type Kiosk } from "../api";
import { h } from "../dom";
import { localTime, money, t, word } from "../i18n";
import type { Panel } from "../main";
import { frame, updating } from "./util";

/** Every kiosk seen or revoked: its state, when last seen, and today's takings. */
export function kiosksPanel(): Panel {
  const holder = h("div", { id: "kiosk-table" });
  const { element, status } = frame("kiosks", t("kiosks"), holder);
  const table = new Tabulator(holder, {
    layout: "fitColumns",
    placeholder: t("noKiosks"),
    index: "terminal",
    columns: [
      { title: t("terminal"), field: "terminal" },
      {
        title: t("state"),
        field: "state",
        formatter: (cell) => {
          const s = String(cell.getValue());
          const el = h("span", { class: `badge ${s}`, "data-state": s }, word(s));
          return el;
        },
      },
      { title: t("lastSeen"), field: "last_seen", formatter: (c) => localTime(String(c.getValue())) },
      { title: t("version"), field: "version" },
      { title: t("paymentsToday"), field: "payments_today", hozAlign: "right" },
      { title: t("collectedToday"), field: "collected_today_fen", hozAlign: "right", formatter: (c) => money(Number(c.getValue())) },
    ],
  });
  let built = false;
  table.on("tableBuilt", () => (built = true));
  const refresh = () =>
    updating(status, async () => {
      const rows = await get<Kiosk[]>("/api/kiosks");
      if (built) await table.replaceData(rows);
      else table.on("tableBuilt", () => void table.replaceData(rows));
    });
  return { element, refresh, every: 10_000 };
}
