// A user's project installs this checkout with npm, then type-checks and runs the API exactly as the README shows.

import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
const STEP_BOUND_MS = 30_000;

// The code from the issue, verbatim.
const USER_CODE = `import { App, Service, type Context } from "kaffix";
class SaveNumberService extends Service<{ number: number }> {
  async onMessage(message: { number: number }, ctx: Context) { /* save it */ }
}
class DoubleNumberService extends Service<{ number: number }> {
  onMessage(message: { number: number }, ctx: Context) {
    ctx.publish(SaveNumberService, { number: message.number * 2 });
  }
}
await new App({ name: "My Kaffix App" })
  .addService(DoubleNumberService)
  .addService(SaveNumberService)
  .run();
`;

const WRONG_TYPE_CODE = USER_CODE.replace("{ number: message.number * 2 }", '{ number: "x" }');

// Plain JavaScript, run by node: the same two services, started on a free port and stopped again.
const RUNTIME_CODE = `import { App, Service } from "kaffix";
const saved = [];
class SaveNumberService extends Service {
  async onMessage(message) { saved.push(message.number); }
}
class DoubleNumberService extends Service {
  async onMessage(message, ctx) { await ctx.publish(SaveNumberService, { number: message.number * 2 }); }
}
const app = new App({ name: "My Kaffix App" }).addService(DoubleNumberService).addService(SaveNumberService);
await app.start({ port: 0, logLevel: "silent" });
await app.publish(DoubleNumberService, { number: 21 });
await app.whenIdle();
await app.stop();
process.stdout.write(JSON.stringify({ saved, state: app.state }) + "\\n");
`;

function sh(command: string, args: readonly string[], cwd: string): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", timeout: STEP_BOUND_MS, env: { ...process.env, npm_config_update_notifier: "false" } });
  if (result.error !== undefined) throw result.error;
  return result;
}

function output(result: SpawnSyncReturns<string>): string {
  return `exit ${result.status}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}

/** Newest modification time of any file under `dir`, in ms. */
function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    newest = Math.max(newest, stat.isDirectory() ? newestMtimeMs(path) : stat.mtimeMs);
  }
  return newest;
}

// Like a fresh `tsc --init` project with @types/node installed: strict, NodeNext, and no skipLibCheck, so
// Kaffix's own .d.ts files are checked too.
function typeCheck(project: string, file: string): SpawnSyncReturns<string> {
  return sh(
    process.execPath,
    [TSC, "--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022",
      "--typeRoots", join(ROOT, "node_modules", "@types"), "--types", "node", file],
    project,
  );
}

describe("installing kaffix into a user's project", { timeout: 60_000 }, () => {
  const project = mkdtempSync(join(tmpdir(), "kaffix-user-project-"));
  after(() => rmSync(project, { recursive: true, force: true }));

  before(() => {
    // The package exports dist/; build it when it is missing or older than the sources.
    const built = join(ROOT, "dist", "index.js");
    if (!existsSync(built) || statSync(built).mtimeMs < newestMtimeMs(join(ROOT, "src"))) {
      const build = sh(NPM, ["run", "build"], ROOT);
      assert.ok(existsSync(built), `npm run build produced no dist/index.js\n${output(build)}`);
    }
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "user-app", private: true, type: "module" }));
    let install = sh(NPM, ["install", "--no-audit", "--no-fund", "--offline", ROOT], project);
    // --offline only fails when npm insists on the network; a directory install is a symlink either way.
    if (install.status !== 0) install = sh(NPM, ["install", "--no-audit", "--no-fund", ROOT], project);
    assert.equal(install.status, 0, output(install));
  });

  test("the code from the issue type-checks under strict TypeScript", () => {
    writeFileSync(join(project, "main.ts"), USER_CODE);
    const result = typeCheck(project, "main.ts");
    assert.equal(result.status, 0, output(result));
  });

  test("publishing a message of the wrong type fails to compile at the publish call", () => {
    writeFileSync(join(project, "wrong.ts"), WRONG_TYPE_CODE);
    const result = typeCheck(project, "wrong.ts");
    assert.notEqual(result.status, 0, "tsc accepted { number: \"x\" } for a service of { number: number }");
    const publishLine = WRONG_TYPE_CODE.split("\n").findIndex((line) => line.includes("ctx.publish")) + 1;
    assert.match(result.stdout, new RegExp(`wrong\\.ts\\(${publishLine},\\d+\\): error TS2322: Type 'string' is not assignable to type 'number'`));
  });

  test("plain JavaScript imports App and Service from kaffix, starts, handles a message and stops", () => {
    writeFileSync(join(project, "runtime.mjs"), RUNTIME_CODE);
    const result = sh(process.execPath, ["runtime.mjs"], project);
    assert.equal(result.status, 0, output(result));
    const report = JSON.parse(result.stdout.trim()) as { saved: number[]; state: string };
    assert.deepEqual(report.saved, [42]);
    assert.equal(report.state, "stopped");
  });

  test("the kaffix bin is installed and prints a token", () => {
    const result = sh(join(project, "node_modules", ".bin", "kaffix"), ["token"], project);
    assert.equal(result.status, 0, output(result));
    assert.match(result.stdout, /^[A-Za-z0-9_-]{43,}\n$/);
  });
});
