// The dashboard's only script. Pages read fully without it; it makes two parts
// follow live: the task list (re-fetching its rows) and a task's event log (the
// task's event stream, the API's own). No inline scripts: the CSP forbids them.
"use strict";

const LIST_REFRESH_MS = 2000;
const EVENT_TYPES = [
  "status", "system", "assistant", "assistant_block", "thinking", "tool_use", "tool_result", "user", "result",
  "error", "log", "plugin", "flood", "approval_requested", "approval_resolved", "control_request",
  "control_response", "rate_limit_event", "unknown",
];

function followTaskList(body) {
  const url = body.dataset.live;
  const refresh = async () => {
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (response.ok && response.headers.get("content-type")?.startsWith("text/html")) {
        body.innerHTML = await response.text();
      }
    } catch (_) {
      // The next tick tries again.
    }
    setTimeout(refresh, LIST_REFRESH_MS);
  };
  setTimeout(refresh, LIST_REFRESH_MS);
}

function followEvents(list) {
  let after = Number(list.dataset.after || 0);
  const source = new EventSource(`${list.dataset.stream}?after=${after}`);
  const show = (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch (_) {
      return;
    }
    if (typeof event.seq !== "number" || event.seq <= after) return;
    after = event.seq;
    const item = document.createElement("li");
    item.dataset.seq = String(event.seq);
    const kind = document.createElement("code");
    kind.textContent = event.type;
    item.append(kind, " ", JSON.stringify(event).slice(0, 200));
    list.append(item);
    list.scrollTop = list.scrollHeight;
    // A new status or permission prompt changes what the page offers to do.
    if (event.type === "status" || event.type.startsWith("approval")) refreshSummary();
  };
  // The stream names each event by its type; a type not listed here shows on reload.
  for (const type of EVENT_TYPES) source.addEventListener(type, show);
  // The stream ends with the task, or broke: show the current state, and stop only
  // once the task is finished (the browser reconnects on its own, from the last
  // event it saw).
  source.onerror = async () => {
    await refreshSummary();
    if (taskFinished()) source.close();
  };
  // Should the stream be down for a while, the summary still moves on.
  const poll = async () => {
    if (taskFinished()) return;
    await refreshSummary();
    setTimeout(poll, SUMMARY_REFRESH_MS);
  };
  setTimeout(poll, SUMMARY_REFRESH_MS);
}

const SUMMARY_REFRESH_MS = 5000;

// Whether the page shows the task in a final state.
function taskFinished() {
  const status = document.getElementById("task-status");
  return ["completed", "failed", "cancelled"].some((s) => status?.classList.contains(`status-${s}`));
}

// The parts of a task's page that change as it runs; the event log grows by itself.
const TASK_SECTIONS = ["task-summary", "approvals", "turns", "artifacts", "files"];

// Replaces those parts with the server's current ones.
async function refreshSummary() {
  const summary = document.getElementById("task-summary");
  if (!summary) return;
  try {
    const response = await fetch(summary.dataset.live, { credentials: "same-origin" });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const id of TASK_SECTIONS) {
      const [old, fresh] = [document.getElementById(id), page.getElementById(id)];
      if (old && fresh) old.replaceWith(fresh);
    }
  } catch (_) {
    // Left as it is; a reload shows the truth.
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const rows = document.getElementById("task-rows");
  if (rows) followTaskList(rows);
  const events = document.getElementById("events");
  if (events) followEvents(events);
});
