// Reports an error thrown by user code from a fresh microtask: it surfaces as uncaught, like an
// EventEmitter listener's, without unwinding the transport code that called the user.

export function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
