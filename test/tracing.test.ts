// Tracing across nodes: with an OpenTelemetry tracer provider registered, one request yields connected spans under one trace id.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { context, SpanKind, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { App, Service, type Context } from "../src/index.js";
import { startTestCluster } from "../src/testing/index.js";
import { TRACING_CHECK_MS } from "../src/core/tracing.js";

class Quote extends Service<{ sku: string }, number> {
  async onMessage(msg: { sku: string }, ctx: Context): Promise<number> {
    // The handler's own span nests under Kaffix's handler span.
    const inner = trace.getTracer("test").startSpan("look up price");
    inner.end();
    await ctx.publish(Audit, { sku: msg.sku });
    return msg.sku.length;
  }
}

class Audit extends Service<{ sku: string }> {
  onMessage(): void {}
}

const build = () => new App({ name: "traced" }).addService(Quote).addService(Audit);

function byName(spans: readonly ReadableSpan[], name: string): ReadableSpan {
  const span = spans.find((s) => s.name === name);
  assert.ok(span, `a span named "${name}" among ${spans.map((s) => s.name).join(", ")}`);
  return span;
}

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

describe("tracing", () => {
  const exporter = new InMemorySpanExporter();
  before(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  after(() => {
    trace.disable();
    context.disable();
  });

  test("no span is made while no tracer provider is registered", async () => {
    const cluster = await startTestCluster({ nodes: 1, app: build, start: { placement: false } });
    try {
      assert.equal(await cluster.app.request(Quote, { sku: "abc" }), 3);
      await cluster.whenIdle();
      assert.deepEqual(exporter.getFinishedSpans(), []);
    } finally {
      await cluster.stop();
    }
  });

  test("a request across two nodes yields request, hop and handler spans under one trace id, and the handler's publish continues it", async () => {
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    // Node 0 runs neither service, so the request and the publish it makes cross nodes.
    const cluster = await startTestCluster({
      nodes: 3,
      app: build,
      start: (i) => ({ placement: false, services: i === 0 ? ["Audit"] : i === 1 ? ["Quote"] : ["Audit"] }),
    });
    try {
      await sleep(TRACING_CHECK_MS + 100); // nodes started before the provider check again
      const root = trace.getTracer("test").startSpan("checkout");
      const price = await context.with(trace.setSpan(context.active(), root), () => cluster.app.request(Quote, { sku: "abcd" }));
      root.end();
      assert.equal(price, 4);
      await cluster.whenIdle();
      await sleep(50);
      const spans = exporter.getFinishedSpans();
      const request = byName(spans, "request Quote");
      const hop = spans.find((s) => s.name === "send Quote" && s.attributes["kaffix.node"] === cluster.app.nodeId)!;
      const handler = byName(spans, "process Quote");
      const inner = byName(spans, "look up price");
      const publish = byName(spans, "publish Audit");
      const audit = byName(spans, "process Audit");
      const traceId = root.spanContext().traceId;
      for (const span of [request, hop, handler, inner, publish, audit]) assert.equal(span.spanContext().traceId, traceId, `${span.name} is in the trace`);
      assert.equal(parentOf(request), root.spanContext().spanId);
      assert.equal(parentOf(hop), request.spanContext().spanId);
      assert.equal(parentOf(handler), hop.spanContext().spanId);
      assert.equal(parentOf(inner), handler.spanContext().spanId);
      assert.equal(parentOf(publish), handler.spanContext().spanId);
      const auditHop = spans.find((s) => s.spanContext().spanId === parentOf(audit));
      assert.equal(auditHop?.name, "send Audit", "the published message's handler continues its hop");
      assert.equal(parentOf(auditHop!), publish.spanContext().spanId);
      assert.equal(request.kind, SpanKind.CLIENT);
      assert.equal(handler.kind, SpanKind.SERVER);
      assert.equal(publish.kind, SpanKind.PRODUCER);
      assert.equal(audit.kind, SpanKind.CONSUMER);
      assert.equal(handler.attributes["kaffix.node"], cluster.nodes[1]!.nodeId, "the handler ran on the node that runs Quote");
    } finally {
      await cluster.stop();
    }
  });
});
