// The dashboard in a real browser: Debian's Chromium driven by playwright-core,
// against a real gateway running tasks with the scripted model. Started by
// tests/it/dashboard_browser.rs, which passes the gateway, keys and task bodies in
// the environment. Screenshots of each page go to $SCREENSHOT_DIR (not committed).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: run this through tests/it/dashboard_browser.rs`);
  return value;
};
const GATEWAY = env("GATEWAY_URL");
const ADMIN_KEY = env("ADMIN_KEY");
const ALICE_KEY = env("ALICE_KEY");
const BOB_KEY = env("BOB_KEY");
const BOB_ID = env("BOB_ID");
const SHOTS = env("SCREENSHOT_DIR");
const LIVE = 60_000;

const cspViolations = [];
const open = [];

before(() => mkdirSync(SHOTS, { recursive: true }));

after(async () => {
  for (const { context, profile } of open) {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

// A fresh Chromium with a profile of its own (so its own cookies): one per person.
async function launch() {
  const profile = mkdtempSync(join(tmpdir(), "ccgate-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  open.push({ context, profile });
  return context;
}

async function submit(key, body) {
  const response = await fetch(`${GATEWAY}/v1/tasks`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body,
  });
  const text = await response.text();
  assert.equal(response.status, 202, text);
  return JSON.parse(text).id;
}

async function signedIn(key) {
  const context = await launch();
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  await page.goto(`${GATEWAY}/dashboard`);
  assert.match(page.url(), /\/dashboard\/sign-in$/, "not signed in: sent to the sign-in form");
  await page.fill("#key", key);
  await Promise.all([page.waitForURL(`${GATEWAY}/dashboard`), page.click("button[type=submit]")]);
  return { context, page };
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

test("the dashboard, driven as a person would", async (t) => {
  const { page } = await signedIn(ADMIN_KEY);
  await page.waitForSelector("text=Readiness");
  await shot(page, "overview");

  let finished;
  await t.test("a task appears in the list and finishes there, live", async () => {
    await page.goto(`${GATEWAY}/dashboard/tasks`);
    const id = await submit(ADMIN_KEY, env("BODY_QUICK"));
    await page.waitForSelector(`tr[data-task="${id}"]`, { timeout: LIVE });
    await page.waitForSelector(`tr[data-task="${id}"] td.status-completed`, { timeout: LIVE });
    await shot(page, "tasks");
    finished = id;
  });

  await t.test("a running task is cancelled from its page", async () => {
    const id = await submit(ADMIN_KEY, env("BODY_SLOW"));
    await page.goto(`${GATEWAY}/dashboard/tasks/${id}`);
    await page.waitForSelector("#task-status.status-running", { timeout: LIVE });
    await Promise.all([page.waitForURL(`${GATEWAY}/dashboard/tasks/${id}`), page.click("#cancel")]);
    await page.waitForSelector("#task-status.status-cancelled", { timeout: LIVE });
    await shot(page, "task-cancelled");
  });

  await t.test("a waiting tool call is allowed from the task's page", async () => {
    const id = await submit(ADMIN_KEY, env("BODY_ASK"));
    await page.goto(`${GATEWAY}/dashboard/tasks/${id}`);
    const allow = await page.waitForSelector('button[value="allow"]', { timeout: LIVE });
    await shot(page, "task-approval");
    await Promise.all([page.waitForURL(`${GATEWAY}/dashboard/tasks/${id}`), allow.click()]);
    await page.waitForSelector("#task-status.status-completed", { timeout: LIVE });
    assert.match(await page.textContent("#approvals"), /allow/);
    assert.ok((await page.locator("#events li").count()) > 3, "the event log shows the run");
    await shot(page, "task-completed");
  });

  await t.test("an admin creates a key and sees its secret once", async () => {
    await page.goto(`${GATEWAY}/dashboard/keys`);
    await page.fill('input[name="name"]', "from the browser");
    await Promise.all([page.waitForNavigation(), page.click("#create-key")]);
    const secret = (await page.textContent("code.secret")).trim();
    assert.match(secret, /^ccg_(live|test)_[0-9a-f]{48}$/);
    await shot(page, "key-created");
    const response = await fetch(`${GATEWAY}/v1/tasks`, { headers: { Authorization: `Bearer ${secret}` } });
    assert.equal(response.status, 200);
  });

  await t.test("an admin revokes a key", async () => {
    await page.goto(`${GATEWAY}/dashboard/keys`);
    await Promise.all([
      page.waitForURL(`${GATEWAY}/dashboard/keys`),
      page.click(`tr[data-key="${BOB_ID}"] button.revoke`),
    ]);
    assert.match(await page.textContent(`tr[data-key="${BOB_ID}"]`), /revoked/);
    await shot(page, "keys");
    const response = await fetch(`${GATEWAY}/v1/tasks`, { headers: { Authorization: `Bearer ${BOB_KEY}` } });
    assert.equal(response.status, 401);
    await page.goto(`${GATEWAY}/dashboard/plugins`);
    await shot(page, "plugins");
    await page.goto(`${GATEWAY}/dashboard/audit?action=key.revoke`);
    assert.match(await page.textContent("#audit"), new RegExp(BOB_ID));
    await shot(page, "audit");
  });

  await t.test("a tasks key cannot see another key's task", async () => {
    const alice = await signedIn(ALICE_KEY);
    await alice.page.goto(`${GATEWAY}/dashboard/tasks`);
    assert.doesNotMatch(await alice.page.content(), new RegExp(finished));
    const response = await alice.page.goto(`${GATEWAY}/dashboard/tasks/${finished}`);
    assert.equal(response.status(), 404);
    await alice.page.goto(`${GATEWAY}/dashboard/keys`);
    await shot(alice.page, "keys-tasks-key");
  });

  await t.test("a form sent without its CSRF token is refused", async () => {
    await page.goto(`${GATEWAY}/dashboard/tasks`);
    await page.evaluate(() => document.querySelector('form[action="/dashboard/sign-out"] input[name="csrf"]').remove());
    const [response] = await Promise.all([page.waitForNavigation(), page.click("text=Sign out")]);
    assert.equal(response.status(), 403);
    assert.match(await page.textContent("body"), /csrf/);
    const still = await page.goto(`${GATEWAY}/dashboard/tasks`);
    assert.match(still.url(), /\/dashboard\/tasks$/, "still signed in: the refused form changed nothing");
  });

  await page.goto(`${GATEWAY}/dashboard`);
  assert.match(await page.textContent("#usage"), /%/, "the rollup counts the runs above");
  await shot(page, "overview-after-runs");
  assert.deepEqual(cspViolations, [], "the pages load nothing the CSP refuses");
});
