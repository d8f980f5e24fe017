import { ApiError, download, type Overview } from "../api";
import { h } from "../dom";
import { dayInZone, t } from "../i18n";
import type { Panel } from "../main";
import { frame } from "./util";

const hex = (b: ArrayBuffer) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");

/** A biller's daily statement as the ledger issued it, checked against its SHA-256 here. */
export function statementsPanel(overview: Overview): Panel {
  const tenant = h("select", { id: "s-tenant" }, ...overview.tenants.map((x) => h("option", { value: x.id }, x.name)));
  const date = h("input", { type: "date", id: "s-date", value: dayInZone(1) });
  const format = h("select", { id: "s-format" }, h("option", { value: "csv" }, "CSV"), h("option", { value: "json" }, "JSON"));
  const button = h("button", { type: "submit", id: "s-download" }, t("download"));
  const result = h("p", { id: "s-result", role: "status" });
  const form = h(
    "form",
    { class: "filters", id: "statement-form" },
    h("label", {}, t("biller"), tenant),
    h("label", {}, t("date"), date),
    h("label", {}, t("format"), format),
    button,
  );
  const { element } = frame("statements", t("statements"), h("p", { class: "muted" }, t("statementLead")), form, result);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    result.textContent = "";
    result.classList.remove("error");
    button.disabled = true;
    try {
      const res = await download("/api/statement", { tenant: tenant.value, date: date.value, format: format.value });
      const bytes = await res.arrayBuffer();
      const want = res.headers.get("x-posfee-sha256") ?? "";
      const got = hex(await crypto.subtle.digest("SHA-256", bytes));
      if (got !== want) throw new Error(`SHA-256 ${got} is not the ledger's ${want}`);
      const name = `${tenant.value}-${date.value}.${format.value}`;
      const a = h("a", { href: URL.createObjectURL(new Blob([bytes])), download: name });
      a.click();
      result.textContent = t("verified", { name, bytes: bytes.byteLength, sha: got });
      result.dataset.sha256 = got;
    } catch (err) {
      const p = err instanceof ApiError ? `${err.problem.code}: ${err.problem.reason}. ${err.problem.next}` : String(err);
      result.textContent = p;
      result.classList.add("error");
    } finally {
      button.disabled = false;
    }
  });
  return { element, refresh: () => Promise.resolve(), every: 3_600_000 };
}
