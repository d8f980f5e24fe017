// The console's API: JSON over the same origin, the session in an HttpOnly cookie. Every
// refusal carries a code, the field and what to do next.

export interface ApiProblem {
  code: string;
  field?: string;
  reason: string;
  next: string;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public problem: ApiProblem,
  ) {
    super(problem.reason);
  }
}

/** Called when the session is gone, so the page can ask to sign in again. */
let onSignedOut: () => void = () => {};
export function whenSignedOut(f: () => void): void {
  onSignedOut = f;
}

async function problem(res: Response): Promise<ApiError> {
  let body: ApiProblem;
  try {
    body = (await res.json()) as ApiProblem;
  } catch {
    body = { code: "UNAVAILABLE", reason: `${res.status} ${res.statusText}`, next: "try again" };
  }
  if (res.status === 401) onSignedOut();
  return new ApiError(res.status, body);
}

export async function get<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
  const res = await fetch(withQuery(path, query), { credentials: "same-origin" });
  if (!res.ok) throw await problem(res);
  return (await res.json()) as T;
}

export async function post<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw await problem(res);
  return (await res.json()) as T;
}

/** A file the API answers (a statement), with its headers. */
export async function download(path: string, query: Record<string, string>): Promise<Response> {
  const res = await fetch(withQuery(path, query), { credentials: "same-origin" });
  if (!res.ok) throw await problem(res);
  return res;
}

function withQuery(path: string, query: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

// The answers' shapes (operator/src/console/api.rs).
export interface Tenant {
  id: string;
  name: string;
  time_zone: string;
}
export interface Overview {
  operator: string;
  time_zone: string;
  tenants: Tenant[];
  event_kinds: string[];
}
export interface EventRow {
  seq: number;
  time: string;
  kind: string;
  tenant: string | null;
  terminal: string | null;
  account: string | null;
  payment: string | null;
  bill: string | null;
  amount_fen: number | null;
  outcome: string | null;
  summary: string;
}
export interface EventsPage {
  events: EventRow[];
  through: number;
}
export interface Kiosk {
  terminal: string;
  state: "online" | "offline" | "revoked";
  last_seen: string;
  version: string;
  payments_today: number;
  collected_today_fen: number;
}
export interface DayTotals {
  tenant: string;
  date: string;
  time_zone: string;
  payments: number;
  amount_fen: number;
  refunds: number;
  refunded_fen: number;
  net_fen: number;
}
export interface Collections {
  from: string;
  to: string;
  days: DayTotals[];
}
export interface Alert {
  severity: "critical" | "warning";
  kind: string;
  subject: string;
  detail: string;
  since: string | null;
}
export interface Alerts {
  checked_at: string;
  alerts: Alert[];
  settled: number;
  captured: number;
  in_flight: number;
}
