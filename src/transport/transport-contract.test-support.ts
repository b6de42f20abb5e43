// The contract every Transport keeps, as one node:test suite that each implementation's test file runs.
//
// Usage, in `<name>-transport.test.ts`:
//
//   transportContract("in-process", () => {
//     const network = new InProcessNetwork();
//     return { create: (options) => network.transport(options) };
//   });
//
// Everything here runs on real time and the transports' own clocks: waits poll for what a user would
// see, and only the checks that something does *not* happen wait a short grace period.

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { setImmediate as nextImmediate } from "node:timers/promises";
import { KaffixError } from "../errors.js";
import { PROTOCOL_VERSION } from "./hello.js";
import type { Lane, Link } from "./transport.js";
import {
  Nodes,
  assertNoLinks,
  bytes,
  collect,
  hasCode,
  helloFor,
  lanePayloads,
  linkPair,
  patterned,
  quiet,
  text,
  until,
  type TransportFactory,
} from "./transport-contract-helpers.test-support.js";

export type { ContractTransport, TransportFactory } from "./transport-contract-helpers.test-support.js";


/** Registers the contract's tests under `describe("<name> transport contract")`; a fresh factory per test. */
export function transportContract(name: string, makeFactory: () => TransportFactory | Promise<TransportFactory>): void {
  describe(`${name} transport contract`, () => {
    let nodes: Nodes;
    beforeEach(async () => {
      nodes = new Nodes(await makeFactory());
    });
    afterEach(() => nodes.close());

    it("listen resolves with the bound port and fills in the hello's address", async () => {
      const transport = nodes.factory.create({ hello: helloFor("node-solo") });
      nodes.track(transport);
      const port = await transport.listen();
      assert.ok(Number.isInteger(port) && port > 0, `port ${port}`);
      assert.ok(transport.hello.address.endsWith(`:${port}`), `address "${transport.hello.address}" names port ${port}`);
    });

    it("a dialer and a listener see each other's hello, and only the dialer's link is outbound", async () => {
      const [a, b] = await nodes.two();
      const ab = await a.transport.connect(b.address);
      const ba = await until("b has a link to a", () => b.transport.links.get(a.nodeId));
      assert.deepEqual(ab.remote, b.transport.hello);
      assert.deepEqual(ba.remote, a.transport.hello);
      assert.equal(ab.outbound, true);
      assert.equal(ba.outbound, false);
      assert.equal(a.transport.links.get(b.nodeId), ab);
      assert.deepEqual(a.linked, [ab]);
      assert.deepEqual(b.linked, [ba]);
    });

    it("payloads of every size, from empty to maxFrameBytes, arrive intact and in order on each lane", async () => {
      const maxFrameBytes = 1024 * 1024;
      const [a, b] = await nodes.two({ limits: { maxFrameBytes } });
      const { ab, ba } = await linkPair(a, b);
      const inbox = collect(ba);
      const sizes = [0, 1, 5, 100, 4096, 65_536, maxFrameBytes - 1, maxFrameBytes];
      const sent: { lane: Lane; payload: Uint8Array }[] = [];
      for (const [i, size] of sizes.entries()) {
        for (const lane of ["data", "control"] as const) {
          const payload = patterned(size, i * 2 + (lane === "data" ? 0 : 1));
          while (!ab.send(lane, payload)) await ab.whenWritable();
          sent.push({ lane, payload });
        }
      }
      await until("every payload arrived", () => inbox.length === sent.length);
      for (const lane of ["control", "data"] as const) {
        assert.deepEqual(lanePayloads(inbox, lane), lanePayloads(sent, lane), `${lane} lane`);
      }
    });

    it("payloads travel both ways on one link", async () => {
      const [a, b] = await nodes.two();
      const { ab, ba } = await linkPair(a, b);
      const atA = collect(ab);
      const atB = collect(ba);
      ab.send("data", bytes("to b"));
      ba.send("data", bytes("to a"));
      await until("both arrived", () => atA.length === 1 && atB.length === 1);
      assert.equal(text(atA[0]!.payload), "to a");
      assert.equal(text(atB[0]!.payload), "to b");
    });

    it("a control payload sent after data in the same tick arrives before that data", async () => {
      const [a, b] = await nodes.two();
      const { ab, ba } = await linkPair(a, b);
      const inbox = collect(ba);
      for (let i = 0; i < 20; i++) assert.ok(ab.send("data", patterned(16 * 1024, i)));
      assert.ok(ab.send("control", bytes("probe")));
      await until("everything arrived", () => inbox.length === 21);
      assert.equal(inbox[0]!.lane, "control");
    });

    it("a thousand small sends in one tick all arrive, in order", async () => {
      const [a, b] = await nodes.two();
      const { ab, ba } = await linkPair(a, b);
      const inbox = collect(ba);
      for (let i = 0; i < 1000; i++) assert.ok(ab.send("data", bytes(`m${i}`)));
      await until("a thousand arrived", () => inbox.length === 1000);
      assert.deepEqual(
        inbox.map((m) => text(m.payload)),
        Array.from({ length: 1000 }, (_, i) => `m${i}`),
      );
    });

    it("the receiver never sees changes the sender makes to a buffer after sending it", async () => {
      const [a, b] = await nodes.two();
      const { ab, ba } = await linkPair(a, b);
      const inbox = collect(ba);
      const buffer = bytes("first");
      ab.send("data", buffer);
      buffer.set(bytes("reuse"));
      ab.send("data", buffer);
      buffer.fill(0);
      await until("both arrived", () => inbox.length === 2);
      assert.deepEqual(inbox.map((m) => text(m.payload)), ["first", "reuse"]);
    });

    it("payloads that arrive before the receiver calls onMessage are held for it", async () => {
      const [a, b] = await nodes.two();
      const ab = await a.transport.connect(b.address);
      const ba = await until("b has a link to a", () => b.transport.links.get(a.nodeId));
      for (let i = 0; i < 10; i++) ab.send(i % 2 === 0 ? "data" : "control", bytes(`m${i}`));
      await quiet();
      const inbox = collect(ba);
      await until("all ten arrived", () => inbox.length === 10);
      assert.deepEqual(lanePayloads(inbox, "data").map(text), ["m0", "m2", "m4", "m6", "m8"]);
      assert.deepEqual(lanePayloads(inbox, "control").map(text), ["m1", "m3", "m5", "m7", "m9"]);
    });

    it("a node of another app is refused: connect rejects with INCOMPATIBLE_PEER and neither side gets a link", async () => {
      const a = await nodes.start({ app: "shop" });
      const b = await nodes.start({ app: "billing" });
      await assert.rejects(a.transport.connect(b.address), (error: KaffixError) => {
        assert.equal(error.code, "INCOMPATIBLE_PEER");
        assert.match(error.message, /shop/);
        assert.match(error.message, /billing/);
        return true;
      });
      await quiet();
      assertNoLinks(a, b);
    });

    it("a node speaking another protocol version is refused, and neither side gets a link", async () => {
      const a = await nodes.start();
      const b = await nodes.start({ protocol: PROTOCOL_VERSION + 1 });
      await assert.rejects(b.transport.connect(a.address), hasCode("INCOMPATIBLE_PEER"));
      await quiet();
      assertNoLinks(a, b);
    });

    it("a node that dials its own address is refused", async () => {
      const a = await nodes.start();
      await assert.rejects(a.transport.connect(a.address), hasCode("INCOMPATIBLE_PEER"));
      await quiet();
      assertNoLinks(a);
    });

    for (const first of ["smaller", "larger"] as const) {
      it(`when two nodes dial each other at once (the ${first} id first), both keep the link the smaller id dialed`, async () => {
        const [a, b] = await nodes.two();
        assert.ok(a.nodeId < b.nodeId);
        const dials = [() => a.transport.connect(b.address), () => b.transport.connect(a.address)];
        if (first === "larger") dials.reverse();
        await Promise.all(dials.map((dial) => dial()));
        const settled = (): boolean => {
          const ab = a.transport.links.get(b.nodeId);
          const ba = b.transport.links.get(a.nodeId);
          return ab?.outbound === true && ba?.outbound === false && a.transport.links.size === 1 && b.transport.links.size === 1;
        };
        await until("one link each, dialed by the smaller id", settled);
        await quiet();
        assert.ok(settled(), "the kept link stays");
        const ab = a.transport.links.get(b.nodeId)!;
        const ba = b.transport.links.get(a.nodeId)!;
        const atA = collect(ab);
        const atB = collect(ba);
        ab.send("data", bytes("ping"));
        ba.send("data", bytes("pong"));
        await until("the kept link carries both ways", () => atA.length === 1 && atB.length === 1);
      });
    }

    it("payloads sent at once on every link a simultaneous dial announced all arrive, even on a link then dropped as a duplicate", async () => {
      const [a, b] = await nodes.two();
      const received = { a: 0, b: 0 };
      const sent = { a: 0, b: 0 };
      const greet = (side: "a" | "b", link: Link) => {
        for (let i = 0; i < 10 && !link.closed; i++) if (link.send("data", bytes(`${side}${i}`))) sent[side]++;
      };
      a.transport.onLink((link) => {
        link.onMessage(() => received.a++);
        greet("a", link);
      });
      b.transport.onLink((link) => {
        link.onMessage(() => received.b++);
        greet("b", link);
      });
      const [ab, ba] = await Promise.all([a.transport.connect(b.address), b.transport.connect(a.address)]);
      greet("a", ab);
      greet("b", ba);
      await until("every payload sent arrived", () => received.b === sent.a && received.a === sent.b);
      await quiet();
      assert.deepEqual(received, { a: sent.b, b: sent.a });
    });

    it("connect to a node already linked resolves with the existing link, from either side", async () => {
      const [a, b] = await nodes.two();
      const { ab, ba } = await linkPair(a, b);
      assert.equal(await a.transport.connect(b.address), ab);
      assert.equal(await b.transport.connect(a.address), ba);
      await quiet();
      assert.deepEqual(a.linked, [ab]);
      assert.deepEqual(b.linked, [ba]);
    });

    it("closing a link closes it on both sides: onClose once each, links emptied, send and whenWritable fail with LINK_CLOSED", async () => {
      const [a, b] = await nodes.two();
      const { ab, ba } = await linkPair(a, b);
      const closedA: string[] = [];
      const closedB: string[] = [];
      ab.onClose((reason) => closedA.push(reason));
      ba.onClose((reason) => closedB.push(reason));
      ab.close("the test is done");
      assert.equal(ab.closed, true);
      await until("b saw the close", () => ba.closed && closedB.length === 1);
      ab.close("again");
      await quiet();
      assert.deepEqual(closedA, ["the test is done"]);
      assert.equal(closedB.length, 1);
      assert.match(closedB[0]!, /the test is done/, "the peer hears the reason");
      assert.equal(a.transport.links.size, 0);
      assert.equal(b.transport.links.size, 0);
      for (const link of [ab, ba]) {
        assert.throws(() => link.send("data", bytes("late")), hasCode("LINK_CLOSED"));
        await assert.rejects(link.whenWritable(), hasCode("LINK_CLOSED"));
      }
    });

    it("an onClose handler added after the link closed is still called, once", async () => {
      const [a, b] = await nodes.two();
      const { ab } = await linkPair(a, b);
      ab.close("bye");
      const reasons: string[] = [];
      ab.onClose((reason) => reasons.push(reason));
      await until("the late handler ran", () => reasons.length === 1);
      await quiet();
      assert.deepEqual(reasons, ["bye"]);
    });

    it("closing the transport closes every link, on both sides, and later dials are rejected", async () => {
      const [a, b, c] = await Promise.all([nodes.start(), nodes.start(), nodes.start()]);
      const { ab, ba } = await linkPair(a, b);
      const { ab: ac, ba: ca } = await linkPair(a, c);
      await a.transport.close();
      assert.ok(ab.closed && ac.closed);
      assert.equal(a.transport.links.size, 0);
      await until("the peers saw it", () => ba.closed && ca.closed);
      assert.equal(b.transport.links.size, 0);
      assert.equal(c.transport.links.size, 0);
      await assert.rejects(a.transport.connect(b.address), hasCode("NOT_RUNNING"));
    });

    it("after a link closed, the two nodes can link again", async () => {
      const [a, b] = await nodes.two();
      const first = await linkPair(a, b);
      first.ab.close("restart");
      await until("b saw the close", () => first.ba.closed);
      const second = await linkPair(a, b);
      assert.notEqual(second.ab, first.ab);
      const inbox = collect(second.ba);
      second.ab.send("data", bytes("again"));
      await until("the new link carries", () => inbox.length === 1);
    });

    it("connect to an address where nobody listens rejects with ECONNREFUSED, and no link appears", async () => {
      const [a, gone] = await nodes.two();
      await gone.transport.close();
      await assert.rejects(a.transport.connect(gone.address), (error: Error & { code?: string; cause?: { code?: string } }) => {
        assert.equal(error.code ?? error.cause?.code, "ECONNREFUSED");
        return true;
      });
      assertNoLinks(a);
    });

    it("a payload over maxFrameBytes is refused by send with INVALID_ARGUMENT, and the link stays usable", async () => {
      const [a, b] = await nodes.two({ limits: { maxFrameBytes: 1024 } });
      const { ab, ba } = await linkPair(a, b);
      const inbox = collect(ba);
      assert.throws(() => ab.send("data", new Uint8Array(1025)), hasCode("INVALID_ARGUMENT"));
      assert.ok(ab.send("data", new Uint8Array(1024)));
      await until("the largest allowed payload arrived", () => inbox.length === 1);
      assert.equal(inbox[0]!.payload.length, 1024);
      assert.equal(ab.closed, false);
    });

    it("send refuses once maxQueuedBytes is reached in one tick, and succeeds again when whenWritable resolves", async () => {
      const maxQueuedBytes = 64 * 1024;
      const [a, b] = await nodes.two({ limits: { maxQueuedBytes } });
      const { ab, ba } = await linkPair(a, b);
      await ab.whenWritable(); // nothing queued: resolves at once
      const inbox = collect(ba);
      const payloadBytes = 4096;
      let accepted = 0;
      while (accepted < 100 && ab.send("data", patterned(payloadBytes, accepted))) accepted++;
      assert.ok(accepted < 100, "send refused at some point");
      assert.ok(accepted * payloadBytes <= maxQueuedBytes, `${accepted} payloads of ${payloadBytes} bytes fit under ${maxQueuedBytes}`);
      await ab.whenWritable();
      assert.ok(ab.send("data", patterned(payloadBytes, accepted)), "writable again");
      await until("every accepted payload arrived", () => inbox.length === accepted + 1);
      assert.deepEqual(
        inbox.map((m) => m.payload),
        Array.from({ length: accepted + 1 }, (_, i) => patterned(payloadBytes, i)),
      );
    });

    it("a receiver that does not read pushes back on its sender until it reads", async () => {
      const maxQueuedBytes = 1024 * 1024;
      const [a, b] = await nodes.two({ limits: { maxQueuedBytes } });
      const ab = await a.transport.connect(b.address);
      const ba = await until("b has a link to a", () => b.transport.links.get(a.nodeId));
      // b has not called onMessage: it holds what arrives and stops reading. Each tick sends less than
      // half the bound, so a refusal means the queue stopped draining, not one tick's burst.
      // Kernel and socket buffers absorb some bytes first, so fill until the queue stays full.
      const payloadBytes = 64 * 1024;
      let accepted = 0;
      let writable = true;
      let whenWritable: Promise<unknown> = Promise.resolve();
      while (writable) {
        for (let refused = false; !refused; ) {
          for (let i = 0; i < 4 && !refused; i++) {
            if (ab.send("data", patterned(payloadBytes, accepted))) accepted++;
            else refused = true;
          }
          assert.ok(accepted * payloadBytes < 256 * 1024 * 1024, "send refused before 256 MiB were accepted");
          if (!refused) await nextImmediate();
        }
        writable = false;
        whenWritable = ab.whenWritable().then(() => (writable = true));
        await quiet();
      }
      // Here whenWritable has stayed pending through a quiet period while the receiver does not read.
      const inbox = collect(ba);
      await until("every accepted payload arrived", () => inbox.length === accepted, 30_000);
      await whenWritable;
      for (const [i, message] of inbox.entries()) assert.deepEqual(message.payload, patterned(payloadBytes, i), `payload ${i}`);
    });
  });
}
