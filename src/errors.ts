// The one error type Kaffix raises, its code table, and the wire-safe form that crosses process boundaries.

/**
 * Every code Kaffix can raise, with whether retrying the same call later may succeed.
 * docs/errors.md documents each one; keep the two in step.
 */
export const ErrorCodes = {
  INVALID_ARGUMENT: { retryable: false, summary: "An option, argument or message shape is invalid." },
  DUPLICATE_SERVICE: { retryable: false, summary: "Two services share one id." },
  UNKNOWN_SERVICE: { retryable: false, summary: "No service with this id was added to the app." },
  SERVICE_UNAVAILABLE: { retryable: true, summary: "The service exists but no running node serves it." },
  QUEUE_FULL: { retryable: true, summary: "The service's queue stayed full until the deadline." },
  TIMEOUT: { retryable: true, summary: "No answer before the deadline." },
  VALIDATION_FAILED: { retryable: false, summary: "The message failed the service's schema." },
  HANDLER_ERROR: { retryable: false, summary: "The service's handler threw." },
  NOT_RUNNING: { retryable: false, summary: "The app has not been started, or has stopped." },
  STOPPING: { retryable: true, summary: "The node is shutting down and accepts no new work." },
  ALREADY_STARTED: { retryable: false, summary: "start() or run() was called twice." },
  BAD_REQUEST: { retryable: false, summary: "An admin HTTP request was malformed." },
  UNAUTHORIZED: { retryable: false, summary: "The admin endpoint needs a valid bearer token." },
  NOT_FOUND: { retryable: false, summary: "No admin HTTP route at this path." },
  METHOD_NOT_ALLOWED: { retryable: false, summary: "The admin route exists but not for this HTTP method." },
  PAYLOAD_TOO_LARGE: { retryable: false, summary: "A request body is over the configured limit." },
  PROTOCOL_ERROR: { retryable: false, summary: "A peer sent bytes that break the wire protocol." },
  DECODE_ERROR: { retryable: false, summary: "A payload could not be decoded, or is over a decoding limit." },
  INCOMPATIBLE_PEER: { retryable: false, summary: "A peer runs another protocol version or belongs to another app." },
  LINK_CLOSED: { retryable: true, summary: "The connection to a peer closed before the send completed." },
  INTERNAL: { retryable: false, summary: "A bug in Kaffix: please report it." },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** The part of an error that may leave the process: never a stack, never a cause chain. */
export interface WireError {
  code: string;
  message: string;
  retryable: boolean;
  data?: unknown;
}

export interface KaffixErrorOptions {
  data?: unknown;
  cause?: unknown;
  retryable?: boolean;
}

export class KaffixError extends Error {
  override readonly name = "KaffixError";
  /** A code from {@link ErrorCodes}, or the code a handler chose for its own KaffixError. */
  readonly code: string;
  readonly retryable: boolean;
  readonly data: unknown;

  constructor(code: ErrorCode | (string & {}), message: string, options: KaffixErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? (ErrorCodes as Record<string, { retryable: boolean }>)[code]?.retryable ?? false;
    this.data = options.data;
  }

  toWire(): WireError {
    const wire: WireError = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.data !== undefined) wire.data = this.data;
    return wire;
  }

  static fromWire(wire: WireError): KaffixError {
    return new KaffixError(wire.code, wire.message, { retryable: wire.retryable, data: wire.data });
  }
}

/**
 * Turns whatever a handler threw into a KaffixError whose wire form carries no stack.
 * A KaffixError keeps its code; anything else becomes HANDLER_ERROR with the thrown message.
 */
export function toKaffixError(thrown: unknown, fallback: ErrorCode = "HANDLER_ERROR"): KaffixError {
  if (thrown instanceof KaffixError) return thrown;
  if (thrown instanceof Error) return new KaffixError(fallback, thrown.message, { cause: thrown });
  return new KaffixError(fallback, typeof thrown === "string" ? thrown : "non-error value thrown", {
    cause: thrown,
  });
}
