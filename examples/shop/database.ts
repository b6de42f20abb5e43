// A stand-in for the shop's database, simulated: a query takes 1 ms from the region the database is in, 20 ms from elsewhere.

import { setTimeout as sleep } from "node:timers/promises";

/** Where the (simulated) database lives. */
export const DATABASE_REGION = "eu-west";
export const NEAR_MS = 1;
export const FAR_MS = 20;

export class SimulatedDatabase {
  /** What one query costs from this process. */
  readonly latencyMs: number;
  #rows = 0;

  constructor(region: string) {
    this.latencyMs = region === DATABASE_REGION ? NEAR_MS : FAR_MS;
  }

  /** Stores a ledger row and answers its number, after one simulated round trip. */
  async insert(_row: { order: string; total: number }): Promise<number> {
    await sleep(this.latencyMs);
    return ++this.#rows;
  }

  /** A customer's balance, after one simulated round trip. */
  async balance(customer: string): Promise<number> {
    await sleep(this.latencyMs);
    return customer.length * 100;
  }
}

/**
 * This process's connection, as a real app opens its pool once at startup. Its latency follows the
 * region the node runs in, read from KAFFIX_REGION as the node itself reads it.
 */
export const database = new SimulatedDatabase(process.env.KAFFIX_REGION?.trim() || "default");
