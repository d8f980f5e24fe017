// What a new key's stamp costs the web app's own code (`findStamp`, @noble/hashes) on one
// core of the machine running it: `npm run bench:stamp [-- BITS KEYS]`. Prints JSON.
import { createUser } from "@nats-io/nkeys";
import { findStamp } from "../src/enrol";

const bits = Number(process.argv[2] ?? 16);
const keys = Number(process.argv[3] ?? 50);
const took: number[] = [];
let hashes = 0;
for (let i = 0; i < keys; i++) {
  const nkey = createUser().getPublicKey();
  const started = performance.now();
  hashes += findStamp(nkey, bits) + 1;
  took.push(performance.now() - started);
}
const total = took.reduce((a, b) => a + b, 0);
took.sort((a, b) => a - b);
const at = (q: number) => took[Math.round((took.length - 1) * q)];
console.log(
  JSON.stringify({
    bits,
    keys,
    p50_ms: at(0.5),
    p90_ms: at(0.9),
    max_ms: at(1),
    mean_ms: total / keys,
    hashes_per_sec: hashes / (total / 1000),
  }),
);
