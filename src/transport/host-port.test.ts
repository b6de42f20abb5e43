import assert from "node:assert/strict";
import type { NetworkInterfaceInfo } from "node:os";
import { test } from "node:test";
import { formatAddress, parseAddress } from "./host-port.js";

const nic = (address: string, family: "IPv4" | "IPv6", internal: boolean) =>
  ({ address, family, internal, netmask: "", mac: "", cidr: null }) as unknown as NetworkInterfaceInfo;

test("a wildcard bind advertises the machine's first external address, loopback when there is none", () => {
  const interfaces = { lo: [nic("127.0.0.1", "IPv4", true)], eth0: [nic("fe80::1", "IPv6", false), nic("192.0.2.7", "IPv4", false)] };
  assert.equal(formatAddress("0.0.0.0", 12345, interfaces), "192.0.2.7:12345");
  assert.equal(formatAddress("0.0.0.0", 12345, { lo: [nic("127.0.0.1", "IPv4", true)] }), "127.0.0.1:12345");
  assert.equal(formatAddress("::", 12345, interfaces), "[::1]:12345");
});

test("a specific host is advertised as it is, IPv6 in brackets, and parses back", () => {
  assert.equal(formatAddress("10.1.2.3", 80), "10.1.2.3:80");
  assert.equal(formatAddress("2001:db8::1", 80), "[2001:db8::1]:80");
  assert.deepEqual(parseAddress("[2001:db8::1]:80"), { host: "2001:db8::1", port: 80 });
  assert.throws(() => parseAddress("nope"), /not a host:port/);
});
