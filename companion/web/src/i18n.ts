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
  offline_why: "Not connected: {why}",
  offline_text: "the phone cannot reach the system just now; it keeps trying.",
  retry: "Try again",
  not_enrolled: "the system is not letting phones in just now (it may be starting). The phone tries again by itself.",
  key_revoked_title: "This phone's key was revoked",
  key_revoked:
    "The operator took this phone's key off the system, so it cannot pay with it. Tap “Make a new key”: the phone joins again by itself, and your registration and receipts stay on this phone. If you did not expect this, ask the operator.",
  key_conflict_title: "This phone's key clashes with another phone's",
  key_conflict: "Tap “Make a new key”: the phone joins again by itself, and your registration and receipts stay on this phone.",
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
  payer: "Payer account number",
  balance: "Balance (test money)",
  balance_note: "opening balance less the payments made on this phone",
  err_name: "Enter 1 to 64 printable characters.",
  err_national_id_format: "17 digits and a check character (0–9 or X).",
  err_national_id_check: "The check character does not match: a digit is mistyped.",
  err_bank_format: "12 to 19 digits.",
  err_bank_luhn: "This card number fails its check (Luhn): a digit is mistyped.",
  refused_why: "Refused: {why}",
  edit: "Edit",
  amend_title: "Correct your details",
  amend_intro: "Correct a misspelt name or change your bank card. The national id stays as registered.",
  national_id_fixed: "The national id cannot be changed.",
  save: "Save",
  saving: "Saving…",
  amend_done: "Saved at the payment platform: {fields}.",
  amend_same: "Nothing to change: the details are the same.",
  pay_title: "Pay at a kiosk",
  scan: "Scan the kiosk's code",
  scan_photo: "Read a code from a photo",
  stop_scan: "Stop camera",
  camera_hint: "Point the camera at the QR code on the kiosk's screen.",
  no_camera: "No camera here: type the code or use a photo.",
  no_qr: "No QR code found in that picture.",
  code_mistyped: "The code's check symbols do not match: a symbol was mistyped. Type it again as on the kiosk.",
  code_wallet: "This is a phone's wallet code, not a kiosk's code.",
  code_invalid: "This is not a kiosk's code. Type it as the kiosk shows it, e.g. kiosk-01:0024-H36H-….",
  typed_code: "Or type the kiosk's code",
  typed_hint: "As on the kiosk, e.g. kiosk-01:0024-H36H-2NCS-VRH6-DAQF-6DVV-QZR6",
  join: "Continue",
  joining: "Contacting the kiosk…",
  not_registered: "Register first (Me).",
  code_title: "My wallet code",
  code_intro: "Let the kiosk read this code, or read the typed code to the cashier.",
  show_code: "Show my code",
  new_code: "Show a new code",
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
  basket_title: "{n} bills, paid together",
  basket_note: "One confirmation pays all of them; if one cannot be paid, none is.",
  basket_bill: "Bill {i} of {n}",
  basket_total: "Total of {n} bills",
  basket_paid: "{n} bills paid, one payment",
  decline: "Decline",
  paying: "Paying…",
  paid_title: "Paid",
  declined_title: "Declined",
  not_paid_title: "Not paid",
  unknown_title: "Not confirmed yet",
  ended_title: "Payment ended at the kiosk",
  expired_title: "Code expired",
  ended_text: "The kiosk ended this payment ({reason}); nothing was paid.",
  expired_text: "No kiosk sent a bill while the code was shown; nothing was paid.",
  declined_text: "You declined the bill; nothing was paid.",
  failed: "Something went wrong; try again.",
  period_range: "{from} to {to}",
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
  public_key: "Key (public part)",
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
  offline_why: "未连接：{why}",
  offline_text: "手机暂时连不上系统，正在自动重试。",
  retry: "重试",
  not_enrolled: "系统暂时不接纳手机（可能正在启动），手机会自动重试。",
  key_revoked_title: "本机密钥已被吊销",
  key_revoked: "运营方已将本机密钥从系统中移除，本机无法再用它付款。请点“生成新密钥”：手机会自动重新接入，注册信息和缴费凭证仍保留在本机。如非您本人要求，请联系运营方。",
  key_conflict_title: "本机密钥与另一部手机冲突",
  key_conflict: "请点“生成新密钥”：手机会自动重新接入，注册信息和缴费凭证仍保留在本机。",
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
  payer: "付款账户编号",
  balance: "余额（测试）",
  balance_note: "开户余额减去本机的付款",
  err_name: "请输入 1 到 64 个可打印字符。",
  err_national_id_format: "17 位数字加 1 位校验码（0–9 或 X）。",
  err_national_id_check: "校验码不符：有数字输错了。",
  err_bank_format: "12 到 19 位数字。",
  err_bank_luhn: "卡号校验不通过：有数字输错了。",
  refused_why: "被拒绝：{why}",
  edit: "修改",
  amend_title: "修改注册信息",
  amend_intro: "可更正写错的姓名或更换银行卡。身份证号保持注册时的号码。",
  national_id_fixed: "身份证号不可修改。",
  save: "保存",
  saving: "正在保存…",
  amend_done: "已在支付平台保存：{fields}。",
  amend_same: "无需修改：信息与原来相同。",
  pay_title: "在终端缴费",
  scan: "扫描终端二维码",
  scan_photo: "从照片读取二维码",
  stop_scan: "关闭相机",
  camera_hint: "将相机对准终端屏幕上的二维码。",
  no_camera: "没有相机：请输入代码或使用照片。",
  no_qr: "照片中没有找到二维码。",
  code_mistyped: "代码的校验符不符：有字符输错了。请按终端上显示的重新输入。",
  code_wallet: "这是手机的付款码，不是终端的代码。",
  code_invalid: "这不是终端的代码。请按终端上显示的输入，例如 kiosk-01:0024-H36H-…。",
  typed_code: "或输入终端上的代码",
  typed_hint: "与终端显示一致，例如 kiosk-01:0024-H36H-2NCS-VRH6-DAQF-6DVV-QZR6",
  join: "继续",
  joining: "正在联系终端…",
  not_registered: "请先注册（我的）。",
  code_title: "我的付款码",
  code_intro: "让终端扫描此码，或把下面的代码告诉收银员。",
  show_code: "出示付款码",
  new_code: "出示新的付款码",
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
  basket_title: "{n} 笔账单，一次支付",
  basket_note: "确认一次即全部缴清；任何一笔无法缴纳，则全部不扣款。",
  basket_bill: "第 {i} 笔，共 {n} 笔",
  basket_total: "{n} 笔合计",
  basket_paid: "已缴 {n} 笔，一次支付",
  decline: "拒绝",
  paying: "正在付款…",
  paid_title: "已支付",
  declined_title: "已拒绝",
  not_paid_title: "未支付",
  unknown_title: "尚未确认",
  ended_title: "终端已结束本次缴费",
  expired_title: "付款码已失效",
  ended_text: "终端已结束本次缴费（{reason}），未付款。",
  expired_text: "付款码出示期间没有终端发来账单，未付款。",
  declined_text: "您已拒绝此账单，未付款。",
  failed: "出了点问题，请重试。",
  period_range: "{from} 至 {to}",
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
  public_key: "密钥（公开部分）",
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
  if (typeof document !== "undefined") document.documentElement.lang = l;
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
    en: "No kiosk answers this code: it was used, cancelled or has expired, or the kiosk is off. Nothing was paid.",
    zh: "没有终端响应此码：它已被使用、已取消或已过期，或终端未开机。未付款。",
  },
  IDEMPOTENCY_CONFLICT: {
    en: "This phone is already registered to another person.",
    zh: "本机已登记为另一人的手机。",
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
  return t("failed");
}

/** An amount in yuan with its unit: `1052.71 CNY`, in Chinese `1052.71 元`. */
export function money(fen: number): string {
  const sign = fen < 0 ? "-" : "";
  const a = Math.abs(fen);
  return `${sign}${Math.floor(a / 100)}.${String(a % 100).padStart(2, "0")} ${current === "zh-CN" ? "元" : "CNY"}`;
}

/** A bill line's period: a month (`2026-10`) as it is, a range (`2026-08..2026-12`) in words. */
export function periodText(period: string): string {
  const [from, to] = period.split("..");
  return to === undefined ? period : t("period_range", { from, to });
}

/**
 * An instant in the payer's time zone (the phone's, or `timeZone`), named in the payer's
 * language: `{time: "2026-11-25 10:00:00", zone: "China Standard Time"}`.
 */
export function localTimeParts(rfc3339: string, timeZone?: string): { time: string; zone: string } {
  const ms = parseInstant(rfc3339);
  if (Number.isNaN(ms)) return { time: rfc3339, zone: "" };
  const opts = { timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" } as const;
  const parts = new Intl.DateTimeFormat("en-US", opts).formatToParts(ms);
  const v = (type: string) => parts.find((x) => x.type === type)?.value ?? "";
  const named = new Intl.DateTimeFormat(current, { timeZone, timeZoneName: "long" }).formatToParts(ms);
  return {
    time: `${v("year")}-${v("month")}-${v("day")} ${v("hour")}:${v("minute")}:${v("second")}`,
    zone: named.find((x) => x.type === "timeZoneName")?.value ?? "",
  };
}

/** An instant as one line of text: the time in the payer's zone, then the zone's name. */
export function localTime(rfc3339: string, timeZone?: string): string {
  const { time, zone } = localTimeParts(rfc3339, timeZone);
  return zone ? `${time} (${zone})` : time;
}
