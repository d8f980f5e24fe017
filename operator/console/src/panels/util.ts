import { ApiError } from "../api";
import { h } from "../dom";
import { localTime, t } from "../i18n";

/** A panel's frame: its title, a status line, and its body. */
export function frame(id: string, title: string, ...body: Node[]): { element: HTMLElement; status: HTMLElement } {
  const status = h("p", { class: "status", id: `${id}-status` });
  const element = h("section", { id, class: "panel" }, h("h2", {}, title), ...body, status);
  return { element, status };
}

/** Says when the panel was updated, or why it could not be. */
export async function updating(status: HTMLElement, load: () => Promise<void>): Promise<void> {
  try {
    await load();
    status.textContent = t("updated", { time: localTime(new Date().toISOString()).slice(11) });
    status.classList.remove("error");
  } catch (e) {
    const reason = e instanceof ApiError ? `${e.problem.code}: ${e.problem.reason}` : String(e);
    status.textContent = t("unavailable", { reason });
    status.classList.add("error");
  }
}
