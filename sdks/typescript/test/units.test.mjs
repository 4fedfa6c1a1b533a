// The SDK's pure decisions: retries, problem documents, SSE, stream resumes, webhooks.

import assert from "node:assert/strict";
import { test } from "node:test";

import { Client, RateLimitedError, RetryPolicy, StreamError, ValidationError, WebhookVerificationError, webhooks } from "../dist/index.js";
import { apiError, retryAfterSeconds } from "../dist/errors.js";
import { SseParser, StreamResume, TaskEvent, lines } from "../dist/stream.js";

test("429 and 503 are retried after Retry-After, within the cap", () => {
  const policy = new RetryPolicy(2, 10);
  assert.equal(policy.delay(429, 3, 0), 3);
  assert.equal(policy.delay(503, null, 1), 1);
  assert.equal(policy.delay(503, 3, 2), null);
  assert.equal(policy.delay(429, 11, 0), null);
  assert.equal(policy.delay(500, 1, 0), null);
  assert.equal(retryAfterSeconds("7"), 7);
  assert.equal(retryAfterSeconds("Wed, 21 Oct 2015 07:28:00 GMT"), 0);
  assert.equal(retryAfterSeconds("soon"), null);
});

test("a problem becomes an error naming its fields", () => {
  const problem = { type: "t", title: "Invalid request", status: 422, detail: "d", errors: [{ pointer: "/prompt", message: "blank" }] };
  const error = apiError(422, "", new Headers({ "retry-after": "2" }), JSON.stringify(problem));
  assert.ok(error instanceof ValidationError);
  assert.deepEqual([error.pointers, error.retryAfter, error.errors[0].message], [["/prompt"], 2, "blank"]);
  const limited = apiError(429, "Too Many Requests", new Headers(), "<html>");
  assert.ok(limited instanceof RateLimitedError);
  assert.deepEqual([limited.title, limited.errors], ["Too Many Requests", []]);
});

const event = (seq, type = "log", extra = {}) => JSON.stringify({ seq, type, at: "2026-12-05T00:00:00Z", task_id: "tsk_1", ...extra });

test("SSE lines make events and skip keep-alives", async () => {
  const body = new Blob([`:\n\nid: 1\r\nevent: status\r\ndata: ${event(1, "status", { status: "queued" })}\r\n\r\nretry: 5\n\n`]).stream();
  const parser = new SseParser();
  const made = [];
  for await (const line of lines(body)) {
    const parsed = parser.feed(line);
    if (parsed) made.push(parsed);
  }
  assert.deepEqual(made.map((e) => [e.seq, e.type, e.status, e.taskId]), [[1, "status", "queued", "tsk_1"]]);
  assert.throws(() => TaskEvent.parse('{"seq": 1}'));
});

test("a stream resumes after its last event and ends when the task did", () => {
  const resume = new StreamResume(null);
  assert.deepEqual(resume.headers(), {});
  assert.ok(resume.accept(TaskEvent.parse(event(1))) && resume.accept(TaskEvent.parse(event(2))));
  assert.deepEqual(resume.headers(), { "Last-Event-ID": "2" });
  assert.ok(resume.failed(new TypeError("dropped")) > 0);
  assert.ok(!resume.accept(TaskEvent.parse(event(2))));
  assert.ok(resume.accept(TaskEvent.parse(event(3))));
  assert.ok(resume.ended());
  assert.ok(!resume.ended());
  resume.accept(TaskEvent.parse(event(4, "status", { status: "completed" })));
  assert.ok(!resume.ended());
  for (let n = 0; n < 5; n++) resume.failed(new TypeError("dropped"));
  assert.throws(() => resume.failed(new TypeError("dropped")), StreamError);
});

test("the Standard Webhooks example verifies", async () => {
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const headers = new Headers({
    "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "webhook-timestamp": "1614265330",
    "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
  });
  const body = '{"test": 2432232314}';
  assert.deepEqual(await webhooks.verify(secret, headers, body, { now: 1614265330 + 299 }), { test: 2432232314 });
  await assert.rejects(webhooks.verify(secret, headers, body, { now: 1614265330 - 301 }), /tolerance/);
  await assert.rejects(webhooks.verify(secret, headers, body.replace("2", "3"), { now: 1614265330 }), /no signature/);
  await assert.rejects(webhooks.verify(secret, { "webhook-id": "x" }, body), WebhookVerificationError);
  const rotated = { "Webhook-Id": headers.get("webhook-id"), "Webhook-Timestamp": "1614265330", "Webhook-Signature": `v1,bm90IGl0 ${headers.get("webhook-signature")}` };
  assert.deepEqual(await webhooks.verify(secret, rotated, new TextEncoder().encode(body), { now: 1614265330 }), { test: 2432232314 });
});

test("a retried create sends the same key and parts again", async () => {
  const sent = [];
  const replies = [
    () => new Response('{"type":"t","title":"Too many","status":429,"detail":"d"}', { status: 429, headers: { "retry-after": "0" } }),
    () => new Response("", { status: 503, headers: { "retry-after": "0" } }),
    () => Response.json({ id: "tsk_1", status: "queued" }, { status: 202 }),
  ];
  const fetch = async (url, init) => {
    const parts = [...init.body.entries()].map(([name, value]) => [name, typeof value === "string" ? value : value.name]);
    sent.push({ url: String(url), key: init.headers["Idempotency-Key"], parts });
    return replies[sent.length - 1]();
  };
  const client = new Client({ baseUrl: "http://gateway/", apiKey: "ccg_test_x", fetch });
  const task = await client.tasks.create("Go", { files: { "a.txt": "A" }, archive: new Uint8Array([1]), archiveName: "a.tgz" });
  assert.equal(task.id, "tsk_1");
  assert.equal(sent.length, 3);
  assert.equal(new Set(sent.map((s) => s.key)).size, 1);
  assert.ok(sent[0].key.startsWith("sdk-"));
  for (const request of sent) {
    assert.equal(request.url, "http://gateway/v1/tasks");
    assert.deepEqual(request.parts, [["task", '{"prompt":"Go"}'], ["file0", "a.txt"], ["archive", "a.tgz"]]);
  }
});

test("lists read whole follow every page", async () => {
  const asked = [];
  const pages = {
    artifacts: { "": [["a", "b"], "b"], b: [["c"], null] },
    "webhook-deliveries": { "": [["msg_2"], "msg_2"], msg_2: [["msg_1"], null] },
  };
  const fetch = async (url) => {
    const { pathname, searchParams } = new URL(String(url));
    const kind = pathname.split("/").pop();
    const cursor = searchParams.get("cursor") ?? "";
    asked.push([kind, cursor, searchParams.get("limit")]);
    const [names, next_cursor] = pages[kind][cursor];
    return Response.json({ data: names.map((name) => ({ name, id: name })), next_cursor });
  };
  const client = new Client({ baseUrl: "http://gateway", apiKey: "k", fetch });
  assert.deepEqual((await client.tasks.listArtifacts("tsk_1")).map((a) => a.name), ["a", "b", "c"]);
  const deliveries = await client.tasks.webhookDeliveries("tsk_1");
  assert.deepEqual([deliveries.data.map((d) => d.id), deliveries.next_cursor], [["msg_2", "msg_1"], null]);
  assert.deepEqual(asked, [
    ["artifacts", "", "200"], ["artifacts", "b", "200"],
    ["webhook-deliveries", "", "200"], ["webhook-deliveries", "msg_2", "200"],
  ]);
  pages.artifacts.b = [["c"], "b"];
  await assert.rejects(client.tasks.listArtifacts("tsk_1"), /same page again/);
  const looping = new Client({ baseUrl: "http://gateway", apiKey: "k", fetch: async () => Response.json({ data: [], next_cursor: "tsk_same" }) });
  await assert.rejects(async () => { for await (const _ of looping.tasks.list()) { /* none */ } }, /same page again/);
});

test("a stream left early closes its connection", async () => {
  let cancelled = false;
  const body = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(`data: ${event(1)}\n\n`));
    },
    cancel() {
      cancelled = true;
    },
  });
  const fetch = async () => new Response(body, { headers: { "content-type": "text/event-stream" } });
  const client = new Client({ baseUrl: "http://gateway", apiKey: "ccg_test_x", fetch });
  for await (const first of client.tasks.stream("tsk_1")) {
    assert.equal(first.seq, 1);
    break;
  }
  assert.ok(cancelled);
});
