// OpenTelemetry spans for publish, network hop and handler, emitted only while the application has registered a tracer provider.

import {
  context,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
  type SpanContext,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import type { Clock, TimerHandle } from "../clock.js";

/** How often a node checks whether a tracer provider was registered (or removed). */
export const TRACING_CHECK_MS = 1000;

/** What a provider-less API returns: compared by identity to tell "nothing registered". */
const NOOP_PROVIDER: TracerProvider = new ProxyTracerProvider().getDelegate();

/**
 * The span context a message being sent right now should carry: set around the synchronous part of
 * a traced publish or request, read where its Delivery or Outgoing is created, cleared after. Only
 * ever set for the length of one synchronous call, so nodes sharing a process never see each other's.
 */
export const sendingTrace: { current: SpanContext | undefined } = { current: undefined };

export class Tracing {
  readonly #clock: Clock;
  readonly #node: string;
  #tracer: Tracer | undefined;
  #timer: TimerHandle | undefined;

  constructor(clock: Clock, node: string) {
    this.#clock = clock;
    this.#node = node;
  }

  /** True while a tracer provider is registered: the one check the untraced path pays. */
  get on(): boolean {
    return this.#tracer !== undefined;
  }

  /** Checks for a provider now and every TRACING_CHECK_MS until stop(). */
  start(): void {
    this.#check();
    this.#timer = this.#clock.setTimeout(() => this.start(), TRACING_CHECK_MS);
  }

  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#tracer = undefined;
  }

  /**
   * The span of a publish or request leaving a handler (`parent`, its handler span) or outside code
   * (the active context's span, e.g. the application's HTTP server span).
   */
  startSend(request: boolean, service: string, parent: Span | undefined, inHandler: boolean): Span {
    // Inside a handler whose message carried no trace, a new trace starts: the active context there
    // is whatever scheduled the drain, another message's span perhaps.
    const parentContext = parent !== undefined ? trace.setSpan(ROOT_CONTEXT, parent) : inHandler ? ROOT_CONTEXT : context.active();
    return this.#start(`${request ? "request" : "publish"} ${service}`, request ? SpanKind.CLIENT : SpanKind.PRODUCER, parentContext, service);
  }

  /** The network hop of a message sent to `nodeId`: its context travels in the frame. */
  startHop(service: string, nodeId: string, parent: SpanContext): Span {
    const span = this.#start(`send ${service}`, SpanKind.CLIENT, trace.setSpanContext(ROOT_CONTEXT, parent), service);
    span.setAttribute("kaffix.peer.node", nodeId);
    return span;
  }

  /** A handler's run, child of the context its message carried. */
  startHandler(request: boolean, service: string, parent: SpanContext): Span {
    return this.#start(`process ${service}`, request ? SpanKind.SERVER : SpanKind.CONSUMER, trace.setSpanContext(ROOT_CONTEXT, parent), service);
  }

  /** Runs `fn` with no active span. */
  detached<T>(fn: () => T): T {
    return context.with(ROOT_CONTEXT, fn);
  }

  /** Runs `fn` with `span` as the active span, so the handler's own spans nest under it. */
  within<T>(span: Span, fn: () => T): T {
    return context.with(trace.setSpan(context.active(), span), fn);
  }

  #start(name: string, kind: SpanKind, parent: ReturnType<typeof context.active>, service: string): Span {
    const attributes: Attributes = { "messaging.system": "kaffix", "messaging.destination.name": service, "kaffix.node": this.#node };
    return (this.#tracer ?? trace.getTracer("kaffix")).startSpan(name, { kind, attributes }, parent);
  }

  #check(): void {
    const provider = trace.getTracerProvider();
    const actual = provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider;
    if (actual === NOOP_PROVIDER) this.#tracer = undefined;
    else this.#tracer ??= trace.getTracer("kaffix");
  }
}

/** Ends `span`, marking it failed with `error` when given. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}
