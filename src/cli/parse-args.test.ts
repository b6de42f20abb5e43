// What each command-line flag and environment variable turns into, and how bad input is reported.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { KaffixError } from "../errors.js";
import { parseArgs, usage } from "./parse-args.js";
import type { StartOptions } from "../core/start-options.js";

const TOKEN = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5";

function start(argv: readonly string[], env: NodeJS.ProcessEnv = {}): StartOptions {
  const command = parseArgs(argv, env);
  assert.equal(command.kind, "start");
  return command.options;
}

function rejects(argv: readonly string[], pattern: RegExp, env: NodeJS.ProcessEnv = {}): void {
  assert.throws(
    () => parseArgs(argv, env),
    (error: unknown) => {
      assert.ok(error instanceof KaffixError, `expected a KaffixError, got ${String(error)}`);
      assert.equal(error.code, "INVALID_ARGUMENT");
      assert.match(error.message, pattern);
      return true;
    },
  );
}

describe("parseArgs", () => {
  test("a token alone starts a node and leaves every other option to the app's defaults", () => {
    assert.deepEqual(start(["--token", TOKEN]), { token: [TOKEN] });
  });

  test("--label repeats or takes a list, and KAFFIX_LABELS stands in when no --label is given", () => {
    assert.deepEqual(start(["--token", TOKEN, "--label", "postgres", "--label", "gpu,zone=b"]).labels, ["postgres", "gpu", "zone=b"]);
    assert.deepEqual(start(["--token", TOKEN], { KAFFIX_LABELS: "postgres, ssd" }).labels, ["postgres", "ssd"]);
    rejects(["--token", TOKEN, "--label", "has space"], /label must be/);
  });

  test("KAFFIX_WEIGHT, KAFFIX_ADVERTISE and KAFFIX_LOG_LEVEL stand in for their flags, which win when given", () => {
    const env = { KAFFIX_WEIGHT: "2.5", KAFFIX_ADVERTISE: "10.0.0.7:12345", KAFFIX_LOG_LEVEL: "debug" };
    const fromEnv = start(["--token", TOKEN], env);
    assert.equal(fromEnv.weight, 2.5);
    assert.equal(fromEnv.advertise, "10.0.0.7:12345");
    assert.equal(fromEnv.logLevel, "debug");
    assert.equal(start(["--token", TOKEN, "--weight", "3"], env).weight, 3);
    rejects(["--token", TOKEN], /KAFFIX_WEIGHT must be a number/, { KAFFIX_WEIGHT: "heavy" });
  });

  test("--placement off turns placement off, on leaves the default, anything else is refused", () => {
    assert.equal(start(["--token", TOKEN, "--placement", "off"]).placement, false);
    assert.equal(start(["--token", TOKEN, "--placement", "on"]).placement, undefined);
    rejects(["--token", TOKEN, "--placement", "maybe"], /--placement must be on or off/);
  });

  test("--token=value works as well as --token value", () => {
    assert.deepEqual(start([`--token=${TOKEN}`]).token, [TOKEN]);
  });

  test("--token may be repeated, keeping the order given (newest first)", () => {
    assert.deepEqual(start(["--token", "new-token", "--token", "old-token"]).token, ["new-token", "old-token"]);
  });

  test("a token starting with a dash is read when written --token=VALUE, and explained when not", () => {
    assert.deepEqual(start(["--token=-starts-with-dash"]).token, ["-starts-with-dash"]);
    rejects(["--token", "-starts-with-dash"], /--token is missing its value, or its value starts with "-": then write --token=VALUE/);
  });

  test("KAFFIX_TOKEN may hold several comma-separated tokens", () => {
    assert.deepEqual(start([], { KAFFIX_TOKEN: "new-token, old-token," }).token, ["new-token", "old-token"]);
  });

  test("--token on the command line overrides KAFFIX_TOKEN", () => {
    assert.deepEqual(start(["--token", "flag-token"], { KAFFIX_TOKEN: "env-token" }).token, ["flag-token"]);
  });

  describe("--token-file", () => {
    const dir = mkdtempSync(join(tmpdir(), "kaffix-parse-args-"));
    after(() => rmSync(dir, { recursive: true, force: true }));

    test("reads a token and trims the trailing newline", () => {
      const path = join(dir, "one");
      writeFileSync(path, `${TOKEN}\n`);
      assert.deepEqual(start(["--token-file", path]).token, [TOKEN]);
    });

    test("reads one token per line, skipping blank lines", () => {
      const path = join(dir, "two");
      writeFileSync(path, "new-token\r\n\n  old-token  \n");
      assert.deepEqual(start(["--token-file", path]).token, ["new-token", "old-token"]);
    });

    test("an empty file is an error naming the file", () => {
      const path = join(dir, "empty");
      writeFileSync(path, "\n\n");
      rejects(["--token-file", path], /--token-file .*empty contains no token/);
    });

    test("a missing file is an error naming the file", () => {
      rejects(["--token-file", join(dir, "absent")], /cannot read --token-file .*absent/);
    });
  });

  test("without any token the error says how to give one", () => {
    rejects([], /a token is required: pass --token, set KAFFIX_TOKEN or use --token-file \(kaffix token prints a strong one\)/);
    rejects(["--port", "1"], /a token is required/, { KAFFIX_TOKEN: " , " });
  });

  test("an empty --token is an error", () => {
    rejects(["--token", ""], /--token must not be empty/);
  });

  test("--peer may be repeated, and KAFFIX_PEERS is used when no --peer is given", () => {
    assert.deepEqual(start(["--token", TOKEN, "--peer", "a.local:12345", "--peer", "10.0.0.2:4000"]).peers, ["a.local:12345", "10.0.0.2:4000"]);
    assert.deepEqual(start(["--token", TOKEN], { KAFFIX_PEERS: "a:1,b:2" }).peers, ["a:1", "b:2"]);
    assert.deepEqual(start(["--token", TOKEN, "--peer", "c:3"], { KAFFIX_PEERS: "a:1" }).peers, ["c:3"]);
  });

  test("a peer without a port is an error quoting it", () => {
    rejects(["--token", TOKEN, "--peer", "just-a-host"], /a peer must be "host:port".*"just-a-host"/);
  });

  test("--port takes an integer from 0 to 65535", () => {
    assert.equal(start(["--token", TOKEN, "--port", "0"]).port, 0);
    assert.equal(start(["--token", TOKEN, "--port", "4000"]).port, 4000);
    assert.equal(start(["--token", TOKEN], { KAFFIX_PORT: "4001" }).port, 4001);
  });

  test("a port that is not a number is an error quoting what was typed", () => {
    rejects(["--token", TOKEN, "--port", "abc"], /--port must be an integer from 0 to 65535, got "abc"/);
    rejects(["--token", TOKEN, "--port", "70000"], /--port must be an integer from 0 to 65535, got 70000/);
    rejects(["--token", TOKEN, "--port", "1.5"], /--port must be an integer/);
    rejects(["--token", TOKEN], /KAFFIX_PORT must be an integer/, { KAFFIX_PORT: "nope" });
  });

  test("--port without a value is an error naming the flag", () => {
    rejects(["--token", TOKEN, "--port"], /--port/);
  });

  test("an unknown flag is an error naming it", () => {
    rejects(["--token", TOKEN, "--prot", "1"], /unknown flag --prot/);
    rejects(["--token", TOKEN, "-x"], /unknown flag -x/);
  });

  test("a stray positional argument is an error quoting it", () => {
    rejects(["--token", TOKEN, "extra"], /unexpected argument "extra"/);
  });

  test("--services splits on commas and ignores blanks", () => {
    assert.deepEqual(start(["--token", TOKEN, "--services", "DoubleNumberService, SaveNumberService,"]).services, [
      "DoubleNumberService",
      "SaveNumberService",
    ]);
    rejects(["--token", TOKEN, "--services", " , "], /--services needs at least one service id/);
  });

  test("--http turns the admin endpoint on, on the port given", () => {
    assert.equal(start(["--token", TOKEN]).http, undefined);
    assert.equal(start(["--token", TOKEN, "--http", "8080"]).http, 8080);
    assert.deepEqual(start(["--token", TOKEN, "--http", "0", "--http-host", "0.0.0.0"]).http, { port: 0, host: "0.0.0.0" });
    rejects(["--token", TOKEN, "--http", "web"], /--http must be an integer from 0 to 65535, got "web"/);
    rejects(["--token", TOKEN, "--http-host", "0.0.0.0"], /--http-host only applies with --http/);
  });

  test("--host, --region and --log-level pass through", () => {
    assert.deepEqual(start(["--token", TOKEN, "--host", "127.0.0.1", "--region", "eu-west", "--log-level", "debug"]), {
      token: [TOKEN],
      host: "127.0.0.1",
      region: "eu-west",
      logLevel: "debug",
    });
    assert.equal(start(["--token", TOKEN], { KAFFIX_REGION: "us-east" }).region, "us-east");
  });

  test("a bad --log-level or --region is reported before the node starts", () => {
    rejects(["--token", TOKEN, "--log-level", "loud"], /log level must be one of .*"loud"/);
    rejects(["--token", TOKEN, "--region", "eu west"], /region must be/);
  });

  test("--help and --version need no token and win over other flags", () => {
    assert.deepEqual(parseArgs(["--help"], {}), { kind: "help" });
    assert.deepEqual(parseArgs(["-h"], {}), { kind: "help" });
    assert.deepEqual(parseArgs(["--port", "abc", "--help"], {}), { kind: "help" });
    assert.deepEqual(parseArgs(["--version"], {}), { kind: "version" });
    assert.deepEqual(parseArgs(["-v"], {}), { kind: "version" });
  });

  test("the help text lists every flag, the environment variables and an example", () => {
    const text = usage("my-app", "My App");
    for (const flag of ["--token", "--token-file", "--peer", "--port", "--host", "--region", "--services", "--http", "--http-host", "--log-level", "--help", "--version"]) {
      assert.ok(text.includes(flag), `help text lacks ${flag}`);
    }
    for (const name of ["KAFFIX_TOKEN", "KAFFIX_PEERS", "KAFFIX_PORT", "KAFFIX_REGION"]) assert.ok(text.includes(name));
    assert.ok(text.includes("my-app --token=T --peer=host:12345"));
  });
});

test("--max-frame-bytes sets the frame limit and refuses what is not a size", () => {
  const command = parseArgs(["--token=t0123456789abcdef0123", "--max-frame-bytes", "1048576"], {});
  assert.equal(command.kind === "start" && command.options.maxFrameBytes, 1048576);
  assert.throws(() => parseArgs(["--token=t0123456789abcdef0123", "--max-frame-bytes", "4MB"], {}), /--max-frame-bytes/);
  assert.throws(() => parseArgs(["--token=t0123456789abcdef0123", "--max-frame-bytes", "12"], {}), /maxFrameBytes must be an integer from 1024/);
});
