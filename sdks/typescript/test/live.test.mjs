// The SDK against a live gateway: create with files, stream, follow up, cancel,
// artifacts, pages, webhooks, a 422 and a 429 — the real CLI and the scripted model.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import {
  CcgateError,
  Client,
  NotFoundError,
  RateLimitedError,
  RetryPolicy,
  ValidationError,
  WebhookVerificationError,
  webhooks,
} from "../dist/index.js";
import { script, startGateway } from "./gateway.mjs";

let gateway;
let client;
const scratch = mkdtempSync(join(tmpdir(), "ccgate-sdk-ts-files-"));

before(async () => {
  gateway = await startGateway();
  client = new Client({ baseUrl: gateway.url, apiKey: gateway.key });
});
after(async () => {
  await gateway?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** A .tar.gz of `files` (path → text), made with tar. */
function tarGz(files) {
  const dir = mkdtempSync(join(scratch, "tree-"));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return new Uint8Array(execFileSync("tar", ["czf", "-", "-C", dir, ...Object.keys(files)]));
}

async function receiveWebhook(taskId, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const hook = gateway.receiver.received.find((h) => h.body.includes(taskId));
    if (hook) return hook;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no webhook for ${taskId} within ${timeoutMs} ms`);
}

test("create with files, stream, artifacts, downloads and a verified webhook", async () => {
  const task = await client.tasks.create(
    script("Report", ["mkdir -p out && cat notes/todo.txt src/app.py > out/report.txt"], "Reported"),
    {
      files: { "notes/todo.txt": "remember the milk\n", "bin/data": new Uint8Array([0, 1]) },
      archive: tarGz({ "src/app.py": "print('hi')\n" }),
      archiveName: "src.tar.gz",
      artifacts: ["out/*"],
      webhook: { url: gateway.receiver.url, events: ["task.completed"] },
    },
  );
  assert.equal(task.status, "queued");
  const events = [];
  for await (const event of client.tasks.stream(task.id)) events.push(event);
  const seqs = events.map((e) => e.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  assert.equal(seqs[0], 1);
  assert.ok(events.at(-1).isTerminal && events.at(-1).status === "completed");
  assert.ok(events.some((e) => e.type === "tool_use" && e.data.tool === "Bash"));

  const done = await client.tasks.get(task.id);
  assert.equal(done.result?.text, "Reported");
  const expected = "remember the milk\nprint('hi')\n";
  const [artifact] = await client.tasks.listArtifacts(task.id);
  assert.equal(artifact.name, "report.txt");
  const saved = await client.tasks.downloadArtifact(task.id, artifact.name, join(scratch, "a/report.txt"));
  assert.equal(readFileSync(saved, "utf8"), expected);
  assert.equal(await (await client.tasks.file(task.id, "out/report.txt")).text(), expected);
  const archive = await client.tasks.downloadArchive(task.id, join(scratch, "ws.tar.gz"));
  assert.match(execFileSync("tar", ["tzf", archive]).toString(), /out\/report\.txt/);
  const paths = (await client.tasks.listFiles(task.id)).data.map((f) => f.path);
  for (const path of ["notes/todo.txt", "bin/data", "src/app.py"]) assert.ok(paths.includes(path), path);

  // The gateway's webhook verifies with the key's secret, and only so.
  const hook = await receiveWebhook(task.id);
  const delivery = await webhooks.verify(gateway.webhookSecret, hook.headers, hook.body);
  assert.equal(delivery.type, "task.completed");
  assert.equal(delivery.data.id, task.id);
  const tampered = Buffer.from(hook.body.toString().replace("completed", "failed"));
  await assert.rejects(webhooks.verify(gateway.webhookSecret, hook.headers, tampered), WebhookVerificationError);
  const late = { now: Date.now() / 1000 + 3600 };
  await assert.rejects(webhooks.verify(gateway.webhookSecret, hook.headers, hook.body, late), WebhookVerificationError);
  const other = (await gateway.createKey()).webhook_secret;
  await assert.rejects(webhooks.verify(other, hook.headers, hook.body), WebhookVerificationError);
  const rotated = await webhooks.verify([other, gateway.webhookSecret], hook.headers, hook.body);
  assert.equal(rotated.data.id, task.id);
  const fromClient = await client.webhooks.verify(gateway.webhookSecret, hook.headers, hook.body);
  assert.equal(fromClient.data.id, task.id);
  await assert.rejects(client.webhooks.verify(gateway.webhookSecret, hook.headers, tampered), WebhookVerificationError);
});

test("a follow-up continues the workspace", async () => {
  const task = await client.tasks.create(script("Write", ["echo hello > hello.txt"], "Wrote"));
  assert.equal((await client.tasks.wait(task.id, { timeout: 60 })).status, "completed");
  const queued = await client.tasks.sendMessage(task.id, script("Append", ["echo world >> hello.txt"], "Appended"));
  assert.equal(queued.status, "queued");
  const done = await client.tasks.wait(task.id, { timeout: 60 });
  assert.deepEqual([done.status, done.turns.length, done.result?.text], ["completed", 2, "Appended"]);
  assert.equal(await (await client.tasks.file(task.id, "hello.txt")).text(), "hello\nworld\n");
});

test("cancel a slow task", async () => {
  const slow = await client.tasks.create(script("Wait", ["echo busy && sleep 60"], "waited"));
  for await (const event of client.tasks.stream(slow.id, { timeout: 30 })) {
    if (event.type === "tool_use") break;
  }
  assert.equal((await client.tasks.cancel(slow.id)).status, "cancelled");
  assert.equal((await client.tasks.wait(slow.id, { timeout: 30 })).status, "cancelled");
});

test("execute, and pages of the list", async () => {
  const batch = crypto.randomUUID();
  const made = [];
  for (const n of [0, 1, 2]) made.push(await client.execute(`Say ${n}`, { wait_seconds: 60, metadata: { batch } }));
  assert.deepEqual(made.map((t) => t.result?.text), ["ok: Say 0", "ok: Say 1", "ok: Say 2"]);
  const first = await client.tasks.page({ limit: 2, metadata: { batch } });
  assert.equal(first.data.length, 2);
  assert.ok(first.next_cursor);
  const listed = [];
  for await (const task of client.tasks.list({ limit: 2, metadata: { batch } })) listed.push(task.id);
  assert.deepEqual(listed, made.map((t) => t.id).reverse());
});

test("a retried create makes one task", async () => {
  const idempotencyKey = `sdk-test-${crypto.randomUUID()}`;
  const first = await client.tasks.create("Say once", { idempotencyKey });
  const again = await client.tasks.create("Say once", { idempotencyKey });
  assert.equal(first.id, again.id);
});

test("validation errors name the field", async () => {
  await assert.rejects(client.tasks.create("   "), (error) => {
    assert.ok(error instanceof ValidationError);
    assert.equal(error.status, 422);
    assert.ok(error.pointers.includes("/prompt"), error.pointers);
    return true;
  });
  const escaping = tarGz({ "x.txt": "x" });
  await assert.rejects(
    client.tasks.create("Place", { files: { "ok.txt": "fine", "/etc/passwd": "no" }, archive: escaping, archiveName: "a.tgz" }),
    (error) => error instanceof ValidationError && error.pointers.includes("/parts/file1"),
  );
  await assert.rejects(client.tasks.create("Unpack", { archive: new Uint8Array([1]), archiveName: "a.rar" }), CcgateError);
  await assert.rejects(client.tasks.get("tsk_00000000000000000000000000"), NotFoundError);
});

test("rate limits are retried after Retry-After", async () => {
  const limited = (await gateway.createKey({ name: "limited", rate_limit_per_minute: 30 })).secret;
  const impatient = new Client({ baseUrl: gateway.url, apiKey: limited, retry: new RetryPolicy(0) });
  let refused;
  for (let n = 0; n < 40 && !refused; n++) {
    await impatient.tasks.page({ limit: 1 }).catch((error) => {
      refused = error;
    });
  }
  assert.ok(refused instanceof RateLimitedError, String(refused));
  assert.equal(refused.status, 429);
  assert.ok(refused.retryAfter >= 1);
  // The default policy waits as told and then gets its answer: every request succeeds,
  // and once the bucket is empty again one of them waits for it.
  const patient = new Client({ baseUrl: gateway.url, apiKey: limited });
  let waited = 0;
  for (let n = 0; n < 40 && waited < 900; n++) {
    const started = Date.now();
    assert.deepEqual((await patient.tasks.page({ limit: 1 })).data, []);
    waited = Math.max(waited, Date.now() - started);
  }
  assert.ok(waited >= 900, `no request waited: ${waited} ms`);
});

test("a dropped stream resumes after the last event", async () => {
  const task = await client.tasks.create(script("Two steps", ["echo one"], "Done"));
  await client.tasks.wait(task.id, { timeout: 60 });
  const expected = [];
  for await (const event of client.tasks.stream(task.id)) expected.push(event.seq);
  const resumedWith = [];
  // The first event stream breaks after its first event, as a network would.
  const flakyFetch = async (url, init) => {
    const response = await fetch(url, init);
    if (!String(url).includes("/events")) return response;
    resumedWith.push(init.headers["Last-Event-ID"] ?? null);
    if (resumedWith.length > 1) return response;
    const reader = response.body.getReader();
    let buffered = "";
    const body = new ReadableStream({
      async pull(controller) {
        const { value } = await reader.read();
        buffered += new TextDecoder().decode(value);
        const end = buffered.indexOf("\n\n");
        if (end < 0) return;
        controller.enqueue(new TextEncoder().encode(buffered.slice(0, end + 2)));
        await reader.cancel();
        controller.error(new TypeError("terminated"));
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
  const flaky = new Client({ baseUrl: gateway.url, apiKey: gateway.key, fetch: flakyFetch });
  const seen = [];
  for await (const event of flaky.tasks.stream(task.id)) seen.push(event.seq);
  assert.deepEqual(seen, expected);
  assert.deepEqual(resumedWith.slice(0, 2), [null, "1"]);
});
