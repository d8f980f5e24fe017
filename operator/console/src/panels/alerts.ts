import { get, type Alerts } from "../api";
import { clear, h } from "../dom";
import { localTime, t, word } from "../i18n";
import type { Panel } from "../main";
import { frame, updating } from "./util";

export function alertsPanel(): Panel {
  const list = h("ul", { class: "alerts", id: "alert-list" }, h("li", { class: "muted" }, t("loading")));
  const summary = h("p", { class: "muted", id: "reconciled" });
  const { element, status } = frame("alerts", t("alerts"), list, summary);
  const refresh = () =>
    updating(status, async () => {
      const a = await get<Alerts>("/api/alerts");
      summary.textContent = t("reconciled", { settled: a.settled, captured: a.captured, inFlight: a.in_flight });
      if (a.alerts.length === 0) {
        clear(list, h("li", { class: "ok" }, t("noAlerts")));
        return;
      }
      clear(
        list,
        ...a.alerts.map((x) =>
          h(
            "li",
            { class: `alert ${x.severity}`, "data-kind": x.kind },
            h("span", { class: "severity" }, word(x.severity)),
            h("strong", {}, word(x.kind)),
            h("code", {}, x.subject),
            h("span", {}, x.detail),
            x.since ? h("span", { class: "muted" }, `${t("since")} ${localTime(x.since)}`) : null,
          ),
        ),
      );
    });
  return { element, refresh, every: 15_000 };
}
