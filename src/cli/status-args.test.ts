// How `kaffix status` reads its URL, its token (from a flag, a file or the environment) and its display flags.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { KaffixError } from "../errors.js";
import { DEFAULT_INTERVAL_MS, parseStatusArgs, type StatusArgs } from "./status-args.js";

const SECRET = "s3cret-token-value";

function args(argv: readonly string[], env: NodeJS.ProcessEnv = {}, files: Record<string, string> = {}): StatusArgs {
  const command = parseStatusArgs(argv, env, (path) => {
    const text = files[path];
    if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
    return text;
  });
  assert.equal(command.kind, "status");
  return command.args;
}

function rejects(argv: readonly string[], pattern: RegExp): void {
  assert.throws(
    () =>
      parseStatusArgs(argv, {}, (path) => {
        throw new Error(`ENOENT: no such file, open '${path}'`);
      }),
    (error: unknown) => {
      assert.ok(error instanceof KaffixError);
      assert.equal(error.code, "INVALID_ARGUMENT");
      assert.match(error.message, pattern);
      assert.doesNotMatch(error.message, new RegExp(SECRET), "a message never repeats the token");
      return true;
    },
  );
}

describe("parseStatusArgs", () => {
  test("a URL alone prints once, without a token, with the default bounds", () => {
    const parsed = args(["http://127.0.0.1:8080"]);
    assert.equal(parsed.url.href, "http://127.0.0.1:8080/");
    assert.equal(parsed.token, undefined);
    assert.equal(parsed.watch, false);
    assert.equal(parsed.json, false);
    assert.equal(parsed.intervalMs, DEFAULT_INTERVAL_MS);
  });

  test("host:port without a scheme means http, and a path prefix is kept for endpoints behind a proxy", () => {
    assert.equal(args(["127.0.0.1:8080"]).url.href, "http://127.0.0.1:8080/");
    assert.equal(args(["https://ops.example.com/kaffix"]).url.href, "https://ops.example.com/kaffix/");
  });

  test("--watch, --interval-ms, --json, --timeout-ms and --moves are read", () => {
    const parsed = args(["-w", "--interval-ms", "500", "--json", "--timeout-ms=900", "--moves", "3", "127.0.0.1:1"]);
    assert.deepEqual([parsed.watch, parsed.intervalMs, parsed.json, parsed.timeoutMs, parsed.moves], [true, 500, true, 900, 3]);
  });

  test("the token comes from --token, else --token-file's first line, else the first of KAFFIX_TOKEN", () => {
    const env = { KAFFIX_TOKEN: "from-env, older" };
    assert.equal(args(["h:1", "--token", SECRET], env).token, SECRET);
    assert.equal(args(["h:1", "--token-file", "/t"], env, { "/t": "\n  from-file \nsecond\n" }).token, "from-file");
    assert.equal(args(["h:1"], env).token, "from-env");
    assert.equal(args(["h:1"], { KAFFIX_TOKEN: " " }).token, undefined);
  });

  test("a missing URL, two URLs, an unknown flag or a bad number are usage errors that say what is wrong", () => {
    rejects([], /URL is missing/);
    rejects(["a:1", "b:2"], /one admin URL at a time/);
    rejects(["a:1", "--verbose"], /unknown flag --verbose/);
    rejects(["a:1", "--interval-ms", "fast"], /--interval-ms must be a whole number ≥ 100, got "fast"/);
    rejects(["a:1", "--interval-ms", "5"], /--interval-ms must be a whole number ≥ 100/);
    rejects(["ftp://a:1"], /must be http:\/\/ or https:\/\//);
    rejects(["not a url"], /is not a URL/);
  });

  test("a token in the URL, an empty --token and an unreadable --token-file are refused without echoing a token", () => {
    rejects([`http://user:${SECRET}@host:1`], /not in the URL/);
    rejects(["a:1", "--token="], /--token must not be empty/);
    rejects(["a:1", "--token-file", "/missing"], /cannot read --token-file \/missing/);
  });

  test("--help or -h asks for the usage, with or without a URL", () => {
    assert.equal(parseStatusArgs(["--help"], {}).kind, "help");
    assert.equal(parseStatusArgs(["-h", "127.0.0.1:8080"], {}).kind, "help");
  });
});
