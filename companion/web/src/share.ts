// A receipt as an image (PNG drawn on a canvas) or PDF (the browser's print to PDF), shared
// with the platform's share sheet where there is one, else downloaded.
import { localTime, money, periodText, t, lang } from "./i18n.ts";
import type { Receipt } from "./types.ts";
import { uuidText } from "./wire.ts";

/** A bill line in the payer's language: what it is for, its period, amount and explanation. */
export function lineText(l: Receipt["lines"][number]): { label: string; period: string; amount: string; explanation: string } {
  const zh = lang() === "zh-CN";
  return {
    label: (zh ? l.label_zh : l.label) || l.label || l.kind,
    period: periodText(l.period),
    amount: money(l.amount),
    explanation: (zh ? l.explanation_zh : l.explanation) || l.explanation,
  };
}

/** A receipt as rows of (name, value); a line's explanation is a row of its own (`note`). */
export function receiptLines(r: Receipt): [string, string, "note"?][] {
  const zh = lang() === "zh-CN";
  const rows: [string, string, "note"?][] = [
    [t("payee"), (zh && r.tenant_name_zh) || r.tenant_name],
    [t("account"), r.account],
    [t("terminal"), r.terminal],
  ];
  for (const l of r.lines) {
    const x = lineText(l);
    rows.push([`${x.label} · ${x.period}`, x.amount]);
    rows.push([x.explanation, "", "note"]);
  }
  rows.push([t("total"), money(r.total.fen)]);
  rows.push([t("settled_at"), localTime(r.settled_at)]);
  rows.push([t("payment_id"), uuidText(r.payment_id)]);
  return rows;
}

export async function receiptImage(r: Receipt): Promise<Blob> {
  const rows = receiptLines(r);
  const scale = 2;
  const w = 360;
  const font = "system-ui, 'Noto Sans CJK SC', sans-serif";
  const c = document.createElement("canvas");
  const g = c.getContext("2d");
  if (!g) throw new Error("no canvas");
  // Lay out first: a value too wide for its row goes on a line of its own, a note is wrapped.
  const layout: { k: string; v: string; y: number; own: boolean; note: boolean }[] = [];
  let y = 84;
  for (const [k, v, kind] of rows) {
    if (kind === "note") {
      g.font = `12px ${font}`;
      for (const part of wrapText(g, k, w - 32)) {
        layout.push({ k: part, v: "", y: y - 8, own: false, note: true });
        y += 18;
      }
      y += 6;
      continue;
    }
    g.font = `14px ${font}`;
    const own = g.measureText(k).width + g.measureText(v).width + 24 > w - 32;
    layout.push({ k, v, y, own, note: false });
    y += own ? 48 : 28;
  }
  c.width = w * scale;
  c.height = (y + 8) * scale;
  g.scale(scale, scale);
  g.fillStyle = "#ffffff";
  g.fillRect(0, 0, w, y + 8);
  g.fillStyle = "#0b6e4f";
  g.fillRect(0, 0, w, 56);
  g.fillStyle = "#ffffff";
  g.font = `bold 20px ${font}`;
  g.fillText(t("receipt"), 16, 36);
  for (const { k, v, y: ry, own, note } of layout) {
    g.font = `${note ? 12 : 14}px ${font}`;
    g.fillStyle = note ? "#777" : "#555";
    g.fillText(k, 16, ry);
    g.fillStyle = "#111";
    const vw = g.measureText(v).width;
    g.fillText(v, Math.max(16, w - 16 - vw), own ? ry + 20 : ry);
  }
  return new Promise((resolve, reject) => c.toBlob((b) => (b ? resolve(b) : reject(new Error("no image"))), "image/png"));
}

/** `text` in lines no wider than `width`, broken at spaces, or anywhere in text without them. */
function wrapText(g: CanvasRenderingContext2D, text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const ch of text) {
    if (g.measureText(line + ch).width <= width) {
      line += ch;
      continue;
    }
    const cut = line.lastIndexOf(" ");
    lines.push(cut > 0 ? line.slice(0, cut) : line);
    line = (cut > 0 ? line.slice(cut + 1) : "") + ch;
  }
  if (line) lines.push(line);
  return lines;
}

export async function shareImage(r: Receipt): Promise<Blob> {
  const blob = await receiptImage(r);
  const file = new File([blob], `receipt-${uuidText(r.payment_id)}.png`, { type: "image/png" });
  const nav = navigator as Navigator & { canShare?: (d: ShareData) => boolean };
  if (nav.share && nav.canShare?.({ files: [file] })) {
    await nav.share({ files: [file], title: t("receipt") }).catch(() => {});
  } else {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(file);
    a.download = file.name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }
  return blob;
}
