// A promise with its resolve and reject, made without a new closure per call (the hot paths make one per message).

import type { KaffixError } from "../errors.js";

export interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (error: KaffixError) => void;
}

let capturedResolve: (value: never) => void = () => {};
let capturedReject: (error: KaffixError) => void = () => {};

/** The one executor every deferred shares: it hands the promise's functions out through the two slots above. */
function capture(resolve: (value: never) => void, reject: (error: KaffixError) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

export function deferred<T>(): Deferred<T> {
  const promise = new Promise<T>(capture);
  return { promise, resolve: capturedResolve as (value: T) => void, reject: capturedReject };
}
