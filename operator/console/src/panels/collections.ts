import Chart from "chart.js/auto";
import { get, type Collections, type Overview } from "../api";
import { h } from "../dom";
import { money, t } from "../i18n";
import type { Panel } from "../main";
import { frame, updating } from "./util";

const DAYS = 30;
const COLOURS = ["#1f6feb", "#2da44e", "#d4a72c", "#cf222e", "#8250df", "#0a7ea4", "#bc4c00"];

/** Today's net per biller as bars, and each biller's last 30 days as lines. */
export function collectionsPanel(overview: Overview): Panel {
  const todayCanvas = h("canvas", { id: "chart-today", "aria-label": t("today") });
  const daysCanvas = h("canvas", { id: "chart-days", "aria-label": t("lastDays", { n: DAYS }) });
  const total = h("p", { class: "total", id: "total-today" });
  const { element, status } = frame(
    "collections",
    t("collections"),
    h(
      "div",
      { class: "charts" },
      h("figure", {}, h("figcaption", {}, t("today")), h("div", { class: "chart" }, todayCanvas), total),
      h("figure", { class: "wide" }, h("figcaption", {}, t("lastDays", { n: DAYS })), h("div", { class: "chart" }, daysCanvas)),
    ),
  );
  const name = (id: string) => overview.tenants.find((x) => x.id === id)?.name ?? id;
  const yuan = (fen: number) => fen / 100;
  const tooltip = { callbacks: { label: (c: { raw: unknown }) => money(Math.round(Number(c.raw) * 100)) } };
  const today = new Chart<"bar", number[], string>(todayCanvas, {
    type: "bar",
    data: { labels: [], datasets: [{ label: t("today"), data: [], backgroundColor: COLOURS }] },
    options: { maintainAspectRatio: false, animation: false, plugins: { legend: { display: false }, tooltip } },
  });
  const days = new Chart<"line", number[], string>(daysCanvas, {
    type: "line",
    data: { labels: [], datasets: [] },
    options: { maintainAspectRatio: false, animation: false, plugins: { tooltip } },
  });
  const refresh = () =>
    updating(status, async () => {
      const c = await get<Collections>("/api/collections", { days: DAYS });
      const tenants = overview.tenants.map((x) => x.id);
      const todays = tenants.map((id) => c.days.find((d) => d.tenant === id && d.date === c.to)?.net_fen ?? 0);
      today.data.labels = tenants.map(name);
      today.data.datasets[0].data = todays.map(yuan);
      today.update();
      total.textContent = `${t("totalToday")}: ${money(todays.reduce((a, b) => a + b, 0))}`;
      total.dataset.fen = String(todays.reduce((a, b) => a + b, 0));
      const dates = [...new Set(c.days.map((d) => d.date))].sort();
      days.data.labels = dates.map((d) => d.slice(5));
      days.data.datasets = tenants.map((id, i) => ({
        label: name(id),
        data: dates.map((date) => yuan(c.days.find((d) => d.tenant === id && d.date === date)?.net_fen ?? 0)),
        borderColor: COLOURS[i % COLOURS.length],
        backgroundColor: COLOURS[i % COLOURS.length],
        tension: 0.2,
      }));
      days.update();
    });
  return { element, refresh, every: 30_000 };
}
