// A receipt as an image (PNG drawn on a canvas) or PDF (the browser's print to PDF), shared
// with the platform's share sheet where there is one, else downloaded.
import { localTime, money, t, lang } from "./i18n.ts";
import type { Receipt } from "./types.ts";
import { uuidText } from "./wire.ts";

export function receiptLines(r: Receipt): [string, string][] {
  const zh = lang() === "zh-CN";
  const rows: [string, string][] = [
    [t("payee"), (zh && r.tenant_name_zh) || r.tenant_name],
    [t("account"), r.account],
    [t("terminal"), r.terminal],
  ];
  for (const l of r.lines) {
    const label = (zh ? l.label_zh : l.label) || l.label || l.kind;
    rows.push([`${label} ${l.period}`, money(l.amount)]);
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
  const h = 80 + rows.length * 28 + 20;
  const c = document.createElement("canvas");
  c.width = w * scale;
  c.height = h * scale;
  const g = c.getContext("2d");
  if (!g) throw new Error("no canvas");
  g.scale(scale, scale);
  g.fillStyle = "#ffffff";
  g.fillRect(0, 0, w, h);
  g.fillStyle = "#0b6e4f";
  g.fillRect(0, 0, w, 56);
  g.fillStyle = "#ffffff";
  g.font = "bold 20px system-ui, 'Noto Sans CJK SC', sans-serif";
  g.fillText(t("receipt"), 16, 36);
  g.font = "14px system-ui, 'Noto Sans CJK SC', sans-serif";
  rows.forEach(([k, v], i) => {
    const y = 84 + i * 28;
    g.fillStyle = "#555";
    g.fillText(k, 16, y);
    g.fillStyle = "#111";
    const vw = g.measureText(v).width;
    g.fillText(v, Math.max(16, w - 16 - vw), y);
  });
  return new Promise((resolve, reject) => c.toBlob((b) => (b ? resolve(b) : reject(new Error("no image"))), "image/png"));
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
