import { parseInstant } from "./wire.ts";

// The phone's words in English and Chinese. The language comes from the browser unless the
// payer chose one (kept on the phone).
export type Lang = "en" | "zh-CN";

const en = {
  app_title: "posfee phone",
  lang_switch: "中文",
  lang_switch_label: "切换到中文",
  nav: "Main",
  nav_pay: "Pay",
  nav_code: "My code",
  nav_receipts: "Receipts",
  nav_me: "Me",
  connecting: "Connecting…",
  connected: "Connected",
  offline: "Not connected",
  retry: "Try again",
  not_enrolled: "the system is not letting phones in just now (it may be starting). The phone tries again by itself.",
  key_revoked:
    "the system revoked this phone's key. Make a new key below: your registration and receipts stay on this phone.",
  key_conflict: "this phone's key clashes with another phone's. Make a new key below; your receipts stay on this phone.",
  new_key: "Make a new key",
  root_changed:
    "this phone trusts another posfee system than the one this page belongs to; nothing from this one is believed. Use the app from the system you set it up with.",
  no_root: "this page does not say which system it belongs to (no root key); ask the operator.",
  register_title: "Register once",
  register_intro:
    "Your name, national id and bank card go to the payment platform only, once. Kiosks never see them.",
  name: "Name",
  national_id: "National id (18 characters)",
  bank_account: "Bank card number",
  register_send: "Register",
  registering: "Registering…",
  registered_as: "Registered",
  payer: "Payer",
  balance: "Sandbox balance",
  balance_note: "opening balance less the payments made on this phone",
  err_name: "Enter 1 to 64 printable characters.",
  err_national_id_format: "17 digits and a check character (0–9 or X).",
  err_national_id_check: "The check character does not match: a digit is mistyped.",
  err_bank_format: "12 to 19 digits.",
  err_bank_luhn: "This card number fails its check (Luhn): a digit is mistyped.",
  refused: "Refused",
  pay_title: "Pay at a kiosk",
  scan: "Scan the kiosk's code",
  scan_photo: "Read a code from a photo",
  stop_scan: "Stop camera",
  camera_hint: "Point the camera at the QR code on the kiosk's screen.",
  no_camera: "No camera here: type the code or use a photo.",
  no_qr: "No QR code found in that picture.",
  typed_code: "Or type the kiosk's code",
  typed_hint: "As on the kiosk, e.g. kiosk-01:0024-H36H-2NCS-VRH6-DAQF-6DVV-QZR6",
  join: "Continue",
  joining: "Contacting the kiosk…",
  not_registered: "Register first (Me).",
  code_title: "My wallet code",
  code_intro: "Let the kiosk read this code, or read the typed code to the cashier.",
  show_code: "Show my code",
  expires_in: "Expires in {s} s",
  waiting_offer: "Waiting for the kiosk's bill…",
  cancel: "Cancel",
  confirm_title: "Confirm payment",
  payee: "Payee",
  account: "Account",
  holder: "Account holder",
  terminal: "Kiosk",
  class: "Class",
  total: "Total",
  verified: "Signature verified",
  verified_detail: "signed by {tenant} with key {key}",
  expires_at: "Bill valid until",
  confirm: "Pay {total}",
  decline: "Decline",
  paying: "Paying…",
  paid_title: "Paid",
  declined_title: "Declined",
  not_paid_title: "Not paid",
  unknown_title: "Not confirmed yet",
  ended_title: "Payment ended at the kiosk",
  expired_title: "Code expired",
  ended_text: "The kiosk ended this payment ({reason}); nothing was paid.",
  done: "Done",
  receipt: "Receipt",
  receipts_title: "Receipts",
  no_receipts: "No receipts yet.",
  payment_id: "Payment",
  settled_at: "Paid at",
  share_image: "Share as image",
  details: "Lines and payment id",
  share_pdf: "Save as PDF",
  device_title: "This phone",
  device_id: "Device id",
  public_key: "Bus key (public)",
  device_note: "The key was made on this phone; only its public half is ever shown or sent.",
  unconfirmed: "{n} payment(s) not confirmed yet",
  check_again: "Ask again",
};

type Key = keyof typeof en;

const zh: Record<Key, string> = {
  app_title: "posfee 手机缴费",
  lang_switch: "English",
  lang_switch_label: "Switch to English",
  nav: "主菜单",
  nav_pay: "缴费",
  nav_code: "付款码",
  nav_receipts: "凭证",
  nav_me: "我的",
  connecting: "正在连接…",
  connected: "已连接",
  offline: "未连接",
  retry: "重试",
  not_enrolled: "系统暂时不接纳手机（可能正在启动），手机会自动重试。",
  key_revoked: "系统已吊销本机密钥。请在下方生成新密钥：注册信息和缴费凭证仍保留在本机。",
  key_conflict: "本机密钥与另一台手机冲突。请在下方生成新密钥，缴费凭证仍保留在本机。",
  new_key: "生成新密钥",
  root_changed: "本机信任的是另一个缴费系统，不是本页面所属的系统；本系统的任何签名都不会被采信。请使用当初设置本机的系统的页面。",
  no_root: "本页面没有说明所属系统（缺少根密钥），请联系运营方。",
  register_title: "一次注册",
  register_intro: "姓名、身份证号和银行卡只提交给支付平台一次，终端永远看不到。",
  name: "姓名",
  national_id: "身份证号（18 位）",
  bank_account: "银行卡号",
  register_send: "注册",
  registering: "正在注册…",
  registered_as: "已注册",
  payer: "付款人",
  balance: "沙箱余额",
  balance_note: "开户余额减去本机的付款",
  err_name: "请输入 1 到 64 个可打印字符。",
  err_national_id_format: "17 位数字加 1 位校验码（0–9 或 X）。",
  err_national_id_check: "校验码不符：有数字输错了。",
  err_bank_format: "12 到 19 位数字。",
  err_bank_luhn: "卡号校验（Luhn）不通过：有数字输错了。",
  refused: "被拒绝",
  pay_title: "在终端缴费",
  scan: "扫描终端二维码",
  scan_photo: "从照片读取二维码",
  stop_scan: "关闭相机",
  camera_hint: "将相机对准终端屏幕上的二维码。",
  no_camera: "没有相机：请输入代码或使用照片。",
  no_qr: "照片中没有找到二维码。",
  typed_code: "或输入终端上的代码",
  typed_hint: "与终端显示一致，例如 kiosk-01:0024-H36H-2NCS-VRH6-DAQF-6DVV-QZR6",
  join: "继续",
  joining: "正在联系终端…",
  not_registered: "请先注册（我的）。",
  code_title: "我的付款码",
  code_intro: "让终端扫描此码，或把下面的代码告诉收银员。",
  show_code: "出示付款码",
  expires_in: "{s} 秒后失效",
  waiting_offer: "等待终端发来账单…",
  cancel: "取消",
  confirm_title: "确认付款",
  payee: "收款方",
  account: "户号",
  holder: "户主",
  terminal: "终端",
  class: "类别",
  total: "合计",
  verified: "签名已验证",
  verified_detail: "由 {tenant} 使用密钥 {key} 签名",
  expires_at: "账单有效期至",
  confirm: "支付 {total}",
  decline: "拒绝",
  paying: "正在付款…",
  paid_title: "已支付",
  declined_title: "已拒绝",
  not_paid_title: "未支付",
  unknown_title: "尚未确认",
  ended_title: "终端已结束本次缴费",
  expired_title: "付款码已失效",
  ended_text: "终端已结束本次缴费（{reason}），未付款。",
  done: "完成",
  receipt: "缴费凭证",
  receipts_title: "缴费凭证",
  no_receipts: "还没有凭证。",
  payment_id: "付款编号",
  settled_at: "支付时间",
  share_image: "分享为图片",
  details: "明细和付款编号",
  share_pdf: "保存为 PDF",
  device_title: "本机",
  device_id: "设备编号",
  public_key: "总线密钥（公钥）",
  device_note: "密钥在本机生成；只显示和发送其公钥部分。",
  unconfirmed: "{n} 笔付款尚未确认",
  check_again: "再次查询",
};

let current: Lang = "en";

export function pickLanguage(stored: string | undefined, browser: readonly string[]): Lang {
  if (stored === "en" || stored === "zh-CN") return stored;
  for (const l of browser) {
    if (l.toLowerCase().startsWith("zh")) return "zh-CN";
    if (l.toLowerCase().startsWith("en")) return "en";
  }
  return "en";
}

export function setLanguage(l: Lang): void {
  current = l;
  document.documentElement.lang = l;
}

export function lang(): Lang {
  return current;
}

export function t(key: Key, vars: Record<string, string | number> = {}): string {
  const s = (current === "zh-CN" ? zh : en)[key];
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

const CODES: Record<string, { en: string; zh: string }> = {
  PAYER_DECLINED: { en: "You declined; nothing was paid.", zh: "您已拒绝，未付款。" },
  PAIRING_GONE: {
    en: "This code was already used, cancelled or has expired; nothing was paid.",
    zh: "此码已被使用、已取消或已过期，未付款。",
  },
  PAIRING_CONFLICT: { en: "Another phone took this code first.", zh: "另一部手机先使用了此码。" },
  BILL_EXPIRED: { en: "The bill has expired; ask the kiosk for a new one.", zh: "账单已过期，请在终端重新获取。" },
  BILL_ALREADY_PAID: { en: "This bill is already paid.", zh: "此账单已支付。" },
  INSUFFICIENT_FUNDS: { en: "Not enough money in the account.", zh: "账户余额不足。" },
  BAD_SIGNATURE: {
    en: "The bill's signature does not verify: do not pay it.",
    zh: "账单签名验证失败：请勿支付。",
  },
  OUTCOME_UNKNOWN: {
    en: "The payment is not confirmed yet. Nothing will be charged twice; the receipts screen will show how it ended.",
    zh: "付款尚未确认。不会重复扣款；凭证页面稍后会显示结果。",
  },
  UNAVAILABLE: { en: "The service cannot be reached right now; try again.", zh: "暂时无法连接服务，请重试。" },
  PAYER_NOT_FOUND: { en: "Register first (Me).", zh: "请先注册（我的）。" },
  DEVICE_REVOKED: { en: "The operator revoked this phone's key.", zh: "运营方已吊销本机密钥。" },
  RATE_LIMITED: { en: "Too many attempts; try again in a minute.", zh: "尝试次数过多，请一分钟后再试。" },
};

const REASONS: Record<string, { en: string; zh: string }> = {
  cancelled: { en: "cancelled", zh: "已取消" },
  expired: { en: "expired", zh: "已过期" },
  declined: { en: "declined", zh: "已拒绝" },
  not_paid: { en: "not paid", zh: "未支付" },
  no_receipt: { en: "no receipt in time", zh: "未及时收到凭证" },
};

/** Why a kiosk closed a bill (`CloseReason`), in the payer's words. */
export function reasonText(reason: string): string {
  const r = REASONS[reason];
  return r ? (current === "zh-CN" ? r.zh : r.en) : reason.replace(/_/g, " ");
}

/** A posfee error code in the payer's words, when the phone knows the code. */
export function codeMessage(code: string): string | undefined {
  const m = CODES[code];
  return m ? (current === "zh-CN" ? m.zh : m.en) : undefined;
}

/** Field errors from paygate or the phone's own checks, in the payer's language. */
export function fieldMessage(field: string, message: string): string {
  const m = message.toLowerCase();
  if (field === "name") return t("err_name");
  if (field === "national_id") return m.includes("check character does not") ? t("err_national_id_check") : t("err_national_id_format");
  if (field === "bank_account") return m.includes("luhn") ? t("err_bank_luhn") : t("err_bank_format");
  return message;
}

export function money(fen: number): string {
  const sign = fen < 0 ? "-" : "";
  const a = Math.abs(fen);
  return `${sign}${Math.floor(a / 100)}.${String(a % 100).padStart(2, "0")} CNY`;
}

/** Local time with its UTC offset, as the CLIs show it (`2026-11-25 10:00:00 +08:00`). */
export function localTime(rfc3339: string): string {
  const d = new Date(parseInstant(rfc3339));
  if (Number.isNaN(d.getTime())) return rfc3339;
  const p = (n: number) => String(n).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  const o = `${off >= 0 ? "+" : "-"}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${o}`;
}
