// Picks the destination for a service's message. Today every destination is a local mailbox; the
// cross-node issue adds remote destinations behind the same `pick`, so a message's path keeps its shape.

export interface Router<D> {
  /** A destination running `serviceId` now, or undefined when none does. */
  pick(serviceId: string): D | undefined;
}

export class LocalRouter<D> implements Router<D> {
  readonly #local = new Map<string, D>();

  add(serviceId: string, destination: D): void {
    this.#local.set(serviceId, destination);
  }

  remove(serviceId: string): void {
    this.#local.delete(serviceId);
  }

  pick(serviceId: string): D | undefined {
    return this.#local.get(serviceId);
  }
}
