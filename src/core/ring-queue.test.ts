import assert from "node:assert/strict";
import { test } from "node:test";
import { RingQueue } from "./ring-queue.js";

test("a ring queue keeps FIFO order across wrap-around", () => {
  const queue = new RingQueue<number>(3);
  const out: number[] = [];
  for (let i = 0; i < 10; i++) {
    assert.equal(queue.push(i), true);
    if (queue.length === 2) out.push(queue.shift()!);
  }
  out.push(...queue.drain());
  assert.deepEqual(out, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test("a full ring queue refuses a push and keeps its content", () => {
  const queue = new RingQueue<string>(2);
  queue.push("a");
  queue.push("b");
  assert.equal(queue.isFull, true);
  assert.equal(queue.push("c"), false);
  assert.deepEqual(queue.drain(), ["a", "b"]);
  assert.equal(queue.shift(), undefined);
});

test("a ring queue rejects a capacity that is not a positive integer", () => {
  assert.throws(() => new RingQueue(0), RangeError);
  assert.throws(() => new RingQueue(1.5), RangeError);
});
