import assert from "node:assert/strict";
import { test } from "node:test";
import { Service } from "../index.js";
import { ServiceRegistry } from "./service-registry.js";

function build(contract?: string) {
  class Orders extends Service<{ id: string }> {
    static contract = contract;
    onMessage() {}
  }
  if (contract === undefined) delete (Orders as { contract?: string }).contract;
  return new ServiceRegistry().add(Orders);
}

test("two builds of a service with the same id and contract label share a fingerprint", () => {
  assert.equal(build("v2").fingerprint, build("v2").fingerprint);
  assert.equal(build().fingerprint, build().fingerprint);
});

test("changing a service's contract label changes its fingerprint", () => {
  assert.notEqual(build("v1").fingerprint, build("v2").fingerprint);
  assert.notEqual(build().fingerprint, build("v1").fingerprint);
});

test("the catalog lists every service with its fingerprint", () => {
  class A extends Service<void> {
    onMessage() {}
  }
  class B extends Service<void> {
    static contract = "2";
    onMessage() {}
  }
  const registry = new ServiceRegistry();
  registry.add(A);
  registry.add(B);
  const catalog = registry.catalog();
  assert.deepEqual(Object.keys(catalog), ["A", "B"]);
  assert.match(catalog.A!, /^[0-9a-f]{16}$/);
});

test("a contract label that is not a short string is refused", () => {
  class Bad extends Service<void> {
    static contract = 2 as unknown as string;
    onMessage() {}
  }
  assert.throws(() => new ServiceRegistry().add(Bad), /contract must be a string/);
});
