// Signing in: the operator's seed signs the console's one-time challenge here, in the page;
// only the public key and the signature go to the server.

import { fromSeed } from "@nats-io/nkeys";
import { ApiError, get, post } from "./api";
import { h } from "./dom";
import { t } from "./i18n";

interface Challenge {
  challenge: string;
  signed_prefix: string;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** Signs in with `seed` (an nkey seed, `SU…`); throws the server's refusal. */
export async function signIn(seed: string): Promise<void> {
  let kp;
  try {
    kp = fromSeed(new TextEncoder().encode(seed.trim()));
  } catch {
    throw new ApiError(400, {
      code: "INVALID_FIELD",
      field: "seed",
      reason: "this is not an nkey seed",
      next: "choose the operator's key file (creds/operator.nk)",
    });
  }
  const c = await get<Challenge>("/api/challenge");
  const signature = kp.sign(new TextEncoder().encode(c.signed_prefix + c.challenge));
  await post("/api/session", { public_key: kp.getPublicKey(), challenge: c.challenge, signature: hex(signature) });
}

/** The sign-in form; `done` runs once signed in. */
export function signInForm(done: () => void): HTMLElement {
  const file = h("input", { type: "file", id: "key-file", accept: ".nk,.seed,.txt,text/plain" });
  const seed = h("input", { type: "password", id: "seed", autocomplete: "off", placeholder: "SU…" });
  const error = h("p", { class: "error", id: "sign-in-error", role: "alert" });
  const button = h("button", { type: "submit", id: "sign-in" }, t("signIn"));
  const form = h(
    "form",
    { class: "sign-in" },
    h("h1", {}, t("title")),
    h("p", {}, t("signInLead")),
    h("label", {}, t("keyFile"), file),
    h("label", {}, t("orPaste"), seed),
    button,
    error,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    button.disabled = true;
    try {
      const text = file.files?.[0] ? await file.files[0].text() : seed.value;
      await signIn(text);
      seed.value = "";
      done();
    } catch (err) {
      const p = err instanceof ApiError ? err.problem : { code: "UNAVAILABLE", reason: String(err), next: "" };
      error.textContent = `${p.code}: ${p.reason}. ${p.next}`;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
