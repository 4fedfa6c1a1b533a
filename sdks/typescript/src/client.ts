// The client: `new Client({ baseUrl, apiKey })`, its `tasks`, and `execute`.

import { CcgateError, apiError } from "./errors.js";
import { RetryPolicy } from "./retry.js";
import { SseParser, StreamResume, TaskEvent, isTerminal, lines } from "./stream.js";
import { verify as verifyWebhook } from "./webhooks.js";
import type {
  Artifact,
  Delivery,
  DeliveryList,
  ExecuteRequest,
  FileListing,
  TaskPage,
  TaskRequest,
  TaskStatus,
  TaskView,
} from "./types.js";

export const VERSION = "0.1.0";

export interface ClientOptions {
  baseUrl: string;
  apiKey: string;
  /** Retries of 429 and 503 (default: 3, after `Retry-After`, at most 60 s each). */
  retry?: RetryPolicy;
  /** Replaces the global `fetch` (proxies, tests). */
  fetch?: typeof fetch;
}

/** A file to place in the workspace: its text or its bytes. */
export type FileSource = string | Uint8Array | Blob;

/** What goes with a task-creating request besides its JSON fields. */
export interface Inputs {
  /** Workspace path → content: sent as multipart file parts. */
  files?: Record<string, FileSource>;
  /** An archive unpacked into the workspace; `archiveName` tells its format. */
  archive?: Uint8Array | Blob;
  /** `….tar.gz`, `….tgz` or `….zip`. */
  archiveName?: string;
  /** Sent as `Idempotency-Key` (generated when absent); retries repeat it. */
  idempotencyKey?: string;
}

export type CreateTask = Omit<TaskRequest, "prompt"> & Inputs;
export type Execute = Omit<ExecuteRequest, "prompt"> & Inputs;

export interface ListFilters {
  status?: TaskStatus;
  createdAfter?: string;
  limit?: number;
  metadata?: Record<string, string>;
}

interface Call {
  method: string;
  path: string;
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  /** A multipart body, made anew for every attempt. */
  form?: () => FormData;
  headers?: Record<string, string>;
}

const ARCHIVE_SUFFIXES = [".tar.gz", ".tgz", ".zip"];

function taskPath(id: string, tail = ""): string {
  // Ids and names are path segments: encoded, so none can reach another route.
  return `/v1/tasks/${encodeURIComponent(id)}${tail}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The cursor of the page after the one `cursor` asked for; `undefined` after the
 * last. A list that hands back the cursor it was asked with (a proxy caching without
 * the query) would never end: that is an error, not a loop. */
function nextPage(cursor: string | undefined, next: string | null | undefined): string | undefined {
  if (next && next === cursor) throw new CcgateError(`the list answered the same page again (cursor ${cursor})`);
  return next ?? undefined;
}

export class Client {
  readonly tasks: Tasks;
  /** Webhook verification (`webhooks.verify`), where the other entry points are: it
   * needs no connection, only the key's webhook secret. */
  readonly webhooks = { verify: verifyWebhook };
  readonly retry: RetryPolicy;
  private readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly fetcher: typeof fetch;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.apiKey = options.apiKey;
    this.retry = options.retry ?? new RetryPolicy();
    this.fetcher = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.tasks = new Tasks(this);
  }

  /** Creates a task and waits for it on the gateway (`POST /v1/execute`): the finished
   * task, or the running one when `wait_seconds` ran out first. */
  async execute(prompt: string, request: Execute = {}): Promise<TaskView> {
    return this.json<TaskView>(createCall("/v1/execute", prompt, request));
  }

  /** Sends `call` (with retries) and reads its JSON answer; refusals throw `ApiError`s. */
  async json<T>(call: Call): Promise<T> {
    const response = await this.send(call);
    return (await response.json()) as T;
  }

  /** The response to `call`, after retries. */
  async send(call: Call): Promise<Response> {
    const url = new URL(this.baseUrl + call.path);
    for (const [name, value] of Object.entries(call.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { Authorization: `Bearer ${this.apiKey}`, ...call.headers };
      let body: BodyInit | undefined;
      if (call.form) {
        body = call.form();
      } else if (call.json !== undefined) {
        body = JSON.stringify(call.json);
        headers["Content-Type"] = "application/json";
      }
      const response = await this.fetcher(url, { method: call.method, headers, body });
      if (response.ok) return response;
      const error = apiError(response.status, response.statusText, response.headers, await response.text());
      const delay = this.retry.delay(response.status, error.retryAfter, attempt);
      if (delay === null) throw error;
      await sleep(delay * 1000);
    }
  }
}

function createCall(path: string, prompt: string, request: CreateTask | Execute): Call {
  const { files, archive, archiveName, idempotencyKey, ...fields } = request;
  const json = { prompt, ...fields };
  const headers = { "Idempotency-Key": idempotencyKey ?? `sdk-${crypto.randomUUID()}` };
  if (!files && !archive) return { method: "POST", path, json, headers };
  if (archive && !ARCHIVE_SUFFIXES.some((suffix) => archiveName?.toLowerCase().endsWith(suffix))) {
    // Under any other name the gateway would place the part as a plain file.
    throw new CcgateError(`an archive needs an archiveName ending with .tar.gz, .tgz or .zip (got ${archiveName})`);
  }
  const form = () => {
    const data = new FormData();
    data.append("task", JSON.stringify(json));
    Object.entries(files ?? {}).forEach(([workspacePath, content], n) => {
      data.append(`file${n}`, content instanceof Blob ? content : new Blob([content as BlobPart]), workspacePath);
    });
    if (archive) data.append("archive", archive instanceof Blob ? archive : new Blob([archive as BlobPart]), archiveName);
    return data;
  };
  return { method: "POST", path, form, headers };
}

/** The key's tasks (`client.tasks`). */
export class Tasks {
  constructor(private readonly client: Client) {}

  /** Queues a task. `files` and `archive` go as multipart parts; the rest of `request`
   * is the task's JSON (`options`, `metadata`, `artifacts`, `webhook`, `priority`). */
  async create(prompt: string, request: CreateTask = {}): Promise<TaskView> {
    return this.client.json<TaskView>(createCall("/v1/tasks", prompt, request));
  }

  get(id: string): Promise<TaskView> {
    return this.client.json<TaskView>({ method: "GET", path: taskPath(id) });
  }

  /** Stops the task's run (the whole process tree) and cancels what it had queued. */
  cancel(id: string): Promise<TaskView> {
    return this.client.json<TaskView>({ method: "POST", path: taskPath(id, "/cancel") });
  }

  /** A follow-up: the next turn of a finished task (`queue` or `interrupt` speak to a running one). */
  sendMessage(id: string, prompt: string, delivery?: Delivery): Promise<TaskView> {
    return this.client.json<TaskView>({ method: "POST", path: taskPath(id, "/messages"), json: { prompt, delivery } });
  }

  /** One page of the key's tasks, newest first. */
  page(filters: ListFilters & { cursor?: string } = {}): Promise<TaskPage> {
    const query: Record<string, string | number | undefined> = {
      cursor: filters.cursor,
      status: filters.status,
      created_after: filters.createdAfter,
      limit: filters.limit,
    };
    for (const [name, value] of Object.entries(filters.metadata ?? {})) query[`metadata.${name}`] = value;
    return this.client.json<TaskPage>({ method: "GET", path: "/v1/tasks", query });
  }

  /** Every task matching `filters`, fetching pages as it goes. */
  async *list(filters: ListFilters = {}): AsyncGenerator<TaskView> {
    let cursor: string | undefined;
    do {
      const page = await this.page({ ...filters, cursor });
      yield* page.data;
      cursor = nextPage(cursor, page.next_cursor);
    } while (cursor);
  }

  /** The task's events after `after`, live until it finishes. A dropped connection
   * resumes after the last event (`Last-Event-ID`); none comes twice. `timeout`
   * (seconds) throws `WaitTimeout` when it passes first. */
  async *stream(id: string, options: { after?: number; timeout?: number } = {}): AsyncGenerator<TaskEvent> {
    const resume = new StreamResume(options.after ?? null, options.timeout ?? null);
    for (;;) {
      try {
        const headers = { Accept: "text/event-stream", ...resume.headers() };
        const response = await this.client.send({ method: "GET", path: taskPath(id, "/events"), headers });
        if (!response.body) throw new CcgateError("the event stream has no body");
        const parser = new SseParser();
        for await (const line of lines(response.body)) {
          resume.checkDeadline();
          const event = parser.feed(line);
          if (event && resume.accept(event)) yield event;
        }
        if (!resume.ended()) return;
      } catch (error) {
        // fetch reports a broken connection as a TypeError; everything else is thrown.
        if (!(error instanceof TypeError)) throw error;
        await sleep(resume.failed(error));
      }
    }
  }

  /** The task once it has finished (completed, failed or cancelled). */
  async wait(id: string, options: { timeout?: number } = {}): Promise<TaskView> {
    let task = await this.get(id);
    const resume = new StreamResume(null, options.timeout ?? null);
    while (!isTerminal(task.status)) {
      const stream = this.stream(id, { after: resume.lastSeq ?? undefined, timeout: resume.remaining() ?? undefined });
      for await (const event of stream) resume.accept(event);
      task = await this.get(id);
    }
    return task;
  }

  listFiles(id: string): Promise<FileListing> {
    return this.client.json<FileListing>({ method: "GET", path: taskPath(id, "/files") });
  }

  /** Every artifact of the task, by name (every page). */
  listArtifacts(id: string): Promise<Artifact[]> {
    return this.everyPage<Artifact>(taskPath(id, "/artifacts"));
  }

  /** Every delivery of the task's webhooks, newest first (every page). */
  async webhookDeliveries(id: string): Promise<DeliveryList> {
    return { data: await this.everyPage(taskPath(id, "/webhook-deliveries")), next_cursor: null };
  }

  /** The items of every page of the list at `path`, in the list's order. */
  private async everyPage<T>(path: string): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | undefined;
    do {
      const query = { limit: 200, cursor };
      const page = await this.client.json<{ data: T[]; next_cursor?: string | null }>({ method: "GET", path, query });
      items.push(...page.data);
      cursor = nextPage(cursor, page.next_cursor);
    } while (cursor);
    return items;
  }

  /** The workspace file `path`, as a `Response` (its `body` streams). */
  file(id: string, path: string): Promise<Response> {
    const encoded = path.replace(/^\/+/, "").split("/").map(encodeURIComponent).join("/");
    return this.client.send({ method: "GET", path: taskPath(id, `/files/${encoded}`) });
  }

  /** The whole workspace as `tar.gz` or `zip`, as a `Response`. */
  archive(id: string, format: "tar.gz" | "zip" = "tar.gz"): Promise<Response> {
    return this.client.send({ method: "GET", path: taskPath(id, "/archive"), query: { format } });
  }

  /** The artifact `name` (see `listArtifacts`), as a `Response`. */
  artifact(id: string, name: string): Promise<Response> {
    return this.client.send({ method: "GET", path: taskPath(id, `/artifacts/${encodeURIComponent(name)}`) });
  }

  /** Node: saves the workspace file `path` to `dest` (written whole or not at all). */
  async downloadFile(id: string, path: string, dest: string): Promise<string> {
    return saveTo(await this.file(id, path), dest);
  }

  /** Node: saves the whole workspace to `dest`. */
  async downloadArchive(id: string, dest: string, format: "tar.gz" | "zip" = "tar.gz"): Promise<string> {
    return saveTo(await this.archive(id, format), dest);
  }

  /** Node: saves the artifact `name` to `dest`. */
  async downloadArtifact(id: string, name: string, dest: string): Promise<string> {
    return saveTo(await this.artifact(id, name), dest);
  }
}

// Node's modules, loaded only when a download is saved, so browsers never load them.
const NODE_FS = "node:fs";
const NODE_FS_PROMISES = "node:fs/promises";
const NODE_PATH = "node:path";
const NODE_STREAM = "node:stream";
const NODE_STREAM_PROMISES = "node:stream/promises";

async function saveTo(response: Response, dest: string): Promise<string> {
  const [fs, fsp, path, stream, streamPromises] = await Promise.all([
    import(NODE_FS),
    import(NODE_FS_PROMISES),
    import(NODE_PATH),
    import(NODE_STREAM),
    import(NODE_STREAM_PROMISES),
  ]);
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  const partial = `${dest}.part`;
  if (response.body) {
    await streamPromises.pipeline(stream.Readable.fromWeb(response.body), fs.createWriteStream(partial));
  } else {
    await fsp.writeFile(partial, new Uint8Array());
  }
  await fsp.rename(partial, dest);
  return dest;
}
