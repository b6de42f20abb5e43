// The message flow summed from gossip: local when the sending node runs the target, cross-node otherwise; dead nodes left out.

import assert from "node:assert/strict";
import { test } from "node:test";
import { member } from "./member-fixtures.test-support.js";
import { messageFlow } from "./message-flow.js";

test("a node that runs the target counts as local, one that does not as cross-node", () => {
  const flow = messageFlow(
    [
      member("a", "alive", { Front: { arrivalPerSec: 100, serviceTimeMs: 1, to: { Back: 100 } } }),
      member("b", "alive", { Front: { arrivalPerSec: 50, serviceTimeMs: 3, to: { Back: 50 } }, Back: { arrivalPerSec: 150 } }),
    ],
    ["Front", "Back"],
  );
  assert.deepEqual(flow.edges, [{ from: "Front", to: "Back", perSec: 150, localPerSec: 50, crossPerSec: 100 }]);
  const front = flow.services.find((s) => s.id === "Front")!;
  assert.deepEqual(front, { id: "Front", perSec: 150, replicas: 2, serviceTimeMs: Number(((100 * 1 + 50 * 3) / 150).toPrecision(3)) });
});

test("dead and departed nodes add nothing, and services nobody runs are still listed", () => {
  const flow = messageFlow(
    [
      member("a", "dead", { Front: { arrivalPerSec: 100, to: { Back: 100 } } }),
      member("b", "left", { Back: { arrivalPerSec: 100 } }),
      member("c", "suspect", { Back: { arrivalPerSec: 5 } }),
    ],
    ["Front", "Back", "Idle"],
  );
  assert.deepEqual(flow.edges, []);
  assert.deepEqual(
    flow.services.map((s) => [s.id, s.perSec, s.replicas]),
    [
      ["Front", 0, 0],
      ["Back", 5, 1],
      ["Idle", 0, 0],
    ],
  );
});

test("a service only a peer gossips about is listed too", () => {
  const flow = messageFlow([member("a", "alive", { Newer: { arrivalPerSec: 1, to: { Older: 2 } } })], ["Older"]);
  assert.deepEqual(flow.services.map((s) => s.id).sort(), ["Newer", "Older"]);
  assert.deepEqual(flow.edges, [{ from: "Newer", to: "Older", perSec: 2, localPerSec: 0, crossPerSec: 2 }]);
});
