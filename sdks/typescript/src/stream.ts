// Server-Sent Events and the resume state of a task's event stream: pure, so the
// client's loop only connects, reads and sleeps.

import { CcgateError, StreamError, WaitTimeout } from "./errors.js";
import type { TaskStatus } from "./types.js";

const TERMINAL: ReadonlySet<string> = new Set(["completed", "failed", "cancelled"]);

/** Whether a task in `status` has finished (completed, failed or cancelled). */
export function isTerminal(status: TaskStatus | string | null | undefined): boolean {
  return status != null && TERMINAL.has(status);
}

/** One event of a task's log: `seq` orders them; `data` is the whole event as the
 * gateway sent it (its other fields depend on `type`). */
export class TaskEvent {
  constructor(
    readonly seq: number,
    readonly type: string,
    readonly at: string,
    readonly taskId: string,
    readonly data: Record<string, unknown>,
  ) {}

  /** The task's new status, on `status` events. */
  get status(): TaskStatus | null {
    return this.type === "status" && typeof this.data.status === "string" ? (this.data.status as TaskStatus) : null;
  }

  /** A `status` event saying the task finished. */
  get isTerminal(): boolean {
    return isTerminal(this.status);
  }

  static parse(text: string): TaskEvent {
    let fields: Record<string, unknown>;
    try {
      fields = JSON.parse(text) as Record<string, unknown>;
    } catch {
      fields = {};
    }
    const { seq, type, at, task_id: taskId } = fields ?? {};
    if (typeof seq !== "number" || typeof type !== "string" || typeof at !== "string" || typeof taskId !== "string") {
      throw new CcgateError(`the gateway sent an event that is not one: ${JSON.stringify(text.slice(0, 200))}`);
    }
    return new TaskEvent(seq, type, at, taskId, fields);
  }
}

/** Server-Sent Events, one line at a time (without its line ending). */
export class SseParser {
  private data: string[] = [];

  /** The event this line completes, if any. Comments (keep-alives), `id`, `event` and
   * `retry` lines complete nothing: the event's JSON carries its seq and type. */
  feed(line: string): TaskEvent | null {
    if (line === "") {
      if (this.data.length === 0) return null;
      const text = this.data.join("\n");
      this.data = [];
      return TaskEvent.parse(text);
    }
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    if (name === "data") {
      const value = colon < 0 ? "" : line.slice(colon + 1);
      this.data.push(value.startsWith(" ") ? value.slice(1) : value);
    }
    return null;
  }
}

/** The lines of a byte stream, split at `\n`, `\r\n` or `\r`. */
export async function* lines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let pending = "";
  let finished = false;
  try {
    while (!finished) {
      const { done, value } = await reader.read();
      finished = done;
      pending += done ? decoder.decode() : decoder.decode(value, { stream: true });
      const parts = pending.split(/\r\n|\r|\n/);
      pending = done ? "" : (parts.pop() ?? "");
      yield* parts;
    }
  } finally {
    // A caller that stops early (a `break`) closes the connection, or the gateway would
    // keep the stream open, and counted against the key, until the task ends.
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/** Where an event stream is, so that a dropped connection resumes after the last event
 * seen (`Last-Event-ID`) and no event is yielded twice. */
export class StreamResume {
  private failures = 0;
  private newOnConnection = false;
  private lastTerminal = false;
  private readonly deadline: number | null;

  constructor(
    public lastSeq: number | null,
    timeoutSeconds: number | null = null,
    private readonly maxFailures = 5,
  ) {
    this.deadline = timeoutSeconds === null ? null : Date.now() + timeoutSeconds * 1000;
  }

  headers(): Record<string, string> {
    return this.lastSeq === null ? {} : { "Last-Event-ID": String(this.lastSeq) };
  }

  /** Seconds left before the deadline (null: no deadline). */
  remaining(): number | null {
    return this.deadline === null ? null : Math.max(0, (this.deadline - Date.now()) / 1000);
  }

  /** Throws `WaitTimeout` once the deadline has passed (checked on every line,
   * keep-alives included, which the gateway sends every 15 s). */
  checkDeadline(): void {
    if (this.deadline !== null && Date.now() >= this.deadline) throw new WaitTimeout("the task did not finish in time");
  }

  /** True for an event not yielded before. */
  accept(event: TaskEvent): boolean {
    if (this.lastSeq !== null && event.seq <= this.lastSeq) return false;
    this.lastSeq = event.seq;
    this.newOnConnection = true;
    this.lastTerminal = event.isTerminal;
    this.failures = 0;
    return true;
  }

  /** The gateway closed the stream: true to connect again. It closes once the task is
   * finished; a close after anything else is checked with one more connection, which
   * ends at once, with nothing new, when the task is indeed done. */
  ended(): boolean {
    const again = this.newOnConnection && !this.lastTerminal;
    this.newOnConnection = false;
    return again;
  }

  /** The connection broke: milliseconds to wait before resuming, or `StreamError`. */
  failed(error: unknown): number {
    this.failures += 1;
    if (this.failures > this.maxFailures) {
      throw new StreamError(`the event stream broke ${this.failures} times in a row: ${String(error)}`, { cause: error });
    }
    this.newOnConnection = false;
    return Math.min(5000, 200 * 2 ** this.failures);
  }
}
