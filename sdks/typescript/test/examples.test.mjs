// The first task of docs/sdks.md runs as written, against a live gateway.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";

import { ROOT, startGateway } from "./gateway.mjs";

const EXAMPLE = join(ROOT, "sdks/typescript/examples/first-task.mjs");
let gateway;

before(async () => {
  gateway = await startGateway();
});
after(() => gateway?.stop());

test("the documented first task runs", async () => {
  const env = { ...process.env, CCGATE_URL: gateway.url, CCGATE_API_KEY: gateway.key };
  const { stdout } = await promisify(execFile)(process.execPath, [EXAMPLE], { env, timeout: 120_000 });
  const lines = stdout.trim().split("\n");
  assert.equal(lines[0], "1 status");
  assert.equal(lines.at(-1), "completed ok: Summarise notes/todo.txt");
});

test("the docs show the example as it is", () => {
  const docs = readFileSync(join(ROOT, "docs/sdks.md"), "utf8");
  assert.ok(docs.includes(readFileSync(EXAMPLE, "utf8")), "docs/sdks.md differs from examples/first-task.mjs");
});
