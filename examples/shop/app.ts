// The shop: an order goes gateway → orders → pricing ↔ inventory (one request per item) → ledger → database.

import { App, Service, type Context } from "../../src/index.js";
import { database } from "./database.js";

export interface OrderLine {
  sku: string;
  quantity: number;
}

export interface Order {
  id: string;
  customer: string;
  lines: OrderLine[];
}

export interface Receipt {
  id: string;
  status: "accepted" | "out-of-stock";
  total: number;
  /** The ledger row, when accepted. */
  entry?: number;
  /** The node whose ledger recorded it: shows where placement put the ledger. */
  ledgerNode?: string;
}

interface Priced {
  total: number;
  missing: string[];
}

/** Stock and unit price per article. Each replica computes them alike; a real shop would read a store. */
export class Inventory extends Service<{ sku: string }, { inStock: boolean; unitPrice: number }> {
  static id = "inventory";
  onMessage({ sku }: { sku: string }): { inStock: boolean; unitPrice: number } {
    let hash = 0;
    for (const char of sku) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
    return { inStock: hash % 17 !== 0, unitPrice: 1 + (hash % 5000) / 100 };
  }
}

/** Prices an order by asking inventory about every line, one request each: the chatty pair placement keeps together. */
export class Pricing extends Service<{ lines: OrderLine[] }, Priced> {
  static id = "pricing";
  async onMessage({ lines }: { lines: OrderLine[] }, ctx: Context): Promise<Priced> {
    let total = 0;
    const missing: string[] = [];
    for (const line of lines) {
      const item = await ctx.request(Inventory, { sku: line.sku });
      if (item.inStock) total += item.unitPrice * line.quantity;
      else missing.push(line.sku);
    }
    return { total: Math.round(total * 100) / 100, missing };
  }
}

/** Records accepted orders in the database. `ctx.dependency` times each query, so placement learns where it is fast. */
export class Ledger extends Service<{ order: string; customer: string; total: number }, { entry: number; node: string }> {
  static id = "ledger";
  async onMessage(row: { order: string; customer: string; total: number }, ctx: Context): Promise<{ entry: number; node: string }> {
    await ctx.dependency("db", () => database.balance(row.customer));
    const entry = await ctx.dependency("db", () => database.insert({ order: row.order, total: row.total }));
    return { entry, node: ctx.node };
  }
}

export class Orders extends Service<Order, Receipt> {
  static id = "orders";
  async onMessage(order: Order, ctx: Context): Promise<Receipt> {
    const priced = await ctx.request(Pricing, { lines: order.lines });
    if (priced.missing.length > 0) return { id: order.id, status: "out-of-stock", total: priced.total };
    const recorded = await ctx.request(Ledger, { order: order.id, customer: order.customer, total: priced.total });
    return { id: order.id, status: "accepted", total: priced.total, entry: recorded.entry, ledgerNode: recorded.node };
  }
}

/** The front door: checks the order's shape and hands it on. */
export class Gateway extends Service<Order, Receipt> {
  static id = "gateway";
  onMessage(order: Order, ctx: Context): Promise<Receipt> {
    return ctx.request(Orders, order);
  }
}

/** Checks orders that come from outside the process (POST /request/gateway). */
const orderSchema = {
  parse(value: unknown): Order {
    const order = value as Partial<Order> | null;
    const valid =
      order !== null &&
      typeof order === "object" &&
      typeof order.id === "string" &&
      typeof order.customer === "string" &&
      Array.isArray(order.lines) &&
      order.lines.length > 0 &&
      order.lines.every((line) => typeof line?.sku === "string" && Number.isInteger(line.quantity) && line.quantity > 0);
    if (!valid) throw new Error('an order is { id, customer, lines: [{ sku, quantity }] } with at least one line');
    return order as Order;
  },
};

export function createShopApp(): App {
  return new App({ name: "Shop", version: "1.0.0" })
    .addService(Gateway, { spread: true, schema: orderSchema }) // user-facing: one replica on every node
    .addService(Orders)
    .addService(Pricing)
    .addService(Inventory)
    .addService(Ledger);
}
