// A live gateway for the SDK's tests: the real `ccgate serve` (CCGATE_BIN, else the debug
// build in CARGO_TARGET_DIR or target/) with the real Claude Code from `.tools`
// (CCGATE_TEST_CLAUDE_BIN overrides it), a temporary data directory, a test key, and a
// local webhook receiver.

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

function ccgateBin() {
  if (process.env.CCGATE_BIN) return process.env.CCGATE_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? "target";
  return join(isAbsolute(target) ? target : join(ROOT, target), "debug/ccgate");
}

const claudeBin = () =>
  process.env.CCGATE_TEST_CLAUDE_BIN ?? join(ROOT, ".tools/node_modules/@anthropic-ai/claude-code/bin/claude.exe");

/** Every POST the receiver got: { headers, body (Buffer) }. */
async function startReceiver() {
  const received = [];
  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks) });
      response.writeHead(204).end();
    });
  });
  await new Promise((done) => server.listen(0, "127.0.0.1", done));
  const address = `127.0.0.1:${server.address().port}`;
  return { server, received, address, url: `http://${address}/hook` };
}

/** Starts a gateway; `stop()` ends it and removes its data. */
export async function startGateway() {
  const receiver = await startReceiver();
  const dataDir = mkdtempSync(join(tmpdir(), "ccgate-sdk-ts-"));
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    CCGATE_DATA_DIR: dataDir,
    CCGATE_LISTEN: "127.0.0.1:0",
    CCGATE_CLAUDE_BIN: claudeBin(),
    CCGATE_WORKERS: "2",
    CCGATE_LOG_FORMAT: "json",
    CCGATE_SHUTDOWN_GRACE_SECONDS: "2",
    CCGATE_WEBHOOK_ALLOWED_HOSTS: receiver.address,
    // Test keys never reach the configured upstream: nothing listens here.
    ANTHROPIC_BASE_URL: "http://127.0.0.1:9",
    ANTHROPIC_API_KEY: "sk-ant-unused",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  };
  const createKey = (...args) => JSON.parse(execFileSync(ccgateBin(), ["keys", "create", ...args], { env }).toString());
  const admin = createKey("--name", "admin", "--scope", "admin");
  const key = createKey("--name", "sdk", "--test");
  const child = spawn(ccgateBin(), ["serve"], { env, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  const url = await new Promise((found, failed) => {
    const timer = setTimeout(() => failed(new Error(`the gateway did not start:\n${log}`)), 60_000);
    child.stderr.on("data", (chunk) => {
      log += chunk;
      const match = /ccgate listening on http:\/\/([0-9.:]+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        found(`http://${match[1]}`);
      }
    });
  });
  return {
    url,
    adminKey: admin.secret,
    key: key.secret,
    webhookSecret: key.webhook_secret,
    receiver,
    /** A key made over HTTP with the admin key (a test key unless told otherwise). */
    async createKey(fields = {}) {
      const response = await fetch(`${url}/v1/keys`, {
        method: "POST",
        headers: { Authorization: `Bearer ${admin.secret}`, "Content-Type": "application/json" },
        body: JSON.stringify({ name: "sdk-extra", environment: "test", ...fields }),
      });
      if (!response.ok) throw new Error(`POST /v1/keys: ${response.status} ${await response.text()}`);
      return response.json();
    },
    async stop() {
      const exited = new Promise((done) => child.once("exit", done));
      child.kill("SIGTERM");
      await exited;
      receiver.server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A prompt for the scripted model: Bash steps run in the workspace, then `answer`. */
export function script(title, commands, answer) {
  const steps = [...commands.map((command) => ({ tool: "Bash", input: { command } })), { text: answer }];
  return `${title}\n\n\`\`\`ccgate-script\n${JSON.stringify({ steps })}\n\`\`\``;
}
