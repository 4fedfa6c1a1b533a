// Client for the ccgate HTTP API: Claude Code tasks, their events, files and webhooks.

export { Client, Tasks, VERSION } from "./client.js";
export type { ClientOptions, CreateTask, Execute, FileSource, Inputs, ListFilters } from "./client.js";
export * from "./errors.js";
export { RetryPolicy } from "./retry.js";
export { TaskEvent, isTerminal } from "./stream.js";
export type * from "./types.js";
export * as webhooks from "./webhooks.js";
