"""The synchronous client: `Client(base_url, api_key)`, its `tasks`, and `execute`."""

from __future__ import annotations

import builtins
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar

import httpx

from . import _calls
from ._core import (
    STREAM_ERRORS,
    TERMINAL_STATUSES,
    ArchiveSource,
    Call,
    FileSource,
    RetryPolicy,
    SseParser,
    StreamResume,
    TaskEvent,
    download_target,
    http_options,
)
from .errors import api_error
from .models import Artifact, DeliveryList, FileListing, TaskPage, TaskStatus, TaskView
from .webhooks import Webhooks

T = TypeVar("T")


class Client:
    """A gateway at `base_url`, used with `api_key`. 429 and 503 answers are retried as
    `retry` says; `transport` replaces httpx's (for proxies, tests, or mounts)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self._http = httpx.Client(transport=transport, **http_options(base_url, api_key, timeout))
        self.tasks = Tasks(self)
        self.webhooks = Webhooks()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def execute(
        self,
        prompt: str,
        *,
        wait_seconds: int | None = None,
        files: Mapping[str, FileSource] | None = None,
        archive: ArchiveSource | None = None,
        archive_name: str | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> TaskView:
        """Creates a task and waits for it on the gateway (`POST /v1/execute`): the
        finished task, or the running one when `wait_seconds` ran out first."""
        fields["wait_seconds"] = wait_seconds
        call = _calls.create(prompt, fields, files, archive, archive_name, idempotency_key, path="/v1/execute")
        call = _calls.execute(call, wait_seconds)
        return self.call(call)

    def call(self, call: Call[T]) -> T:
        """Sends `call` (with retries) and reads its answer; refusals raise `ApiError`s."""
        with closing(self.send(call)) as response:
            response.read()
            return call.parse(response)

    def send(self, call: Call[Any]) -> httpx.Response:
        """The streamed response to `call`, after retries; the caller closes it."""
        attempt = 0
        while True:
            response = self._http.send(call.build(self._http), stream=True)
            if response.is_success:
                return response
            with closing(response):
                response.read()
            error = api_error(response)
            delay = self.retry.delay(response.status_code, error.retry_after, attempt)
            if delay is None:
                raise error
            time.sleep(delay)
            attempt += 1

    def download(self, call: Call[Any], dest: str | os.PathLike[str]) -> Path:
        """Streams the answer to `dest` (written whole or not at all)."""
        target, partial = download_target(dest)
        with closing(self.send(call)) as response, partial.open("wb") as out:
            for chunk in response.iter_bytes():
                out.write(chunk)
        partial.replace(target)
        return target


class Tasks:
    """The key's tasks (`client.tasks`)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self,
        prompt: str,
        *,
        files: Mapping[str, FileSource] | None = None,
        archive: ArchiveSource | None = None,
        archive_name: str | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> TaskView:
        """Queues a task. `files` maps workspace paths to text, bytes or a local `Path`;
        `archive` is unpacked into the workspace; `fields` are the rest of the request
        (`options`, `metadata`, `artifacts`, `webhook`, `priority`)."""
        return self._client.call(_calls.create(prompt, fields, files, archive, archive_name, idempotency_key))

    def get(self, task_id: str) -> TaskView:
        return self._client.call(_calls.get(task_id))

    def cancel(self, task_id: str) -> TaskView:
        """Stops the task's run (the whole process tree) and cancels what it had queued."""
        return self._client.call(_calls.cancel(task_id))

    def send_message(self, task_id: str, prompt: str, *, delivery: str | None = None) -> TaskView:
        """A follow-up: the next turn of a finished task (`delivery` `queue` or
        `interrupt` speak to a running one)."""
        return self._client.call(_calls.message(task_id, prompt, delivery))

    def page(
        self,
        *,
        cursor: str | None = None,
        status: TaskStatus | str | None = None,
        created_after: str | None = None,
        limit: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> TaskPage:
        """One page of the key's tasks, newest first."""
        return self._client.call(_calls.page(cursor, status, created_after, limit, metadata))

    def list(self, **filters: Any) -> Iterator[TaskView]:
        """Every task matching `filters` (those of `page`), fetching pages as it goes."""
        cursor = None
        while True:
            page = self.page(cursor=cursor, **filters)
            yield from page.data
            cursor = _calls.next_page(cursor, page.next_cursor)
            if cursor is None:
                return

    def stream(self, task_id: str, *, after: int | None = None, timeout: float | None = None) -> Iterator[TaskEvent]:
        """The task's events from after `after`, live until it finishes. A dropped
        connection resumes after the last event (`Last-Event-ID`); none comes twice.
        `timeout` (seconds) raises `WaitTimeout` when it passes first."""
        resume = StreamResume(after, timeout=timeout)
        while True:
            try:
                with closing(self._client.send(_calls.events(task_id, resume.headers()))) as response:
                    parser = SseParser()
                    for line in response.iter_lines():
                        resume.check_deadline()
                        event = parser.feed(line)
                        if event is not None and resume.accept(event):
                            yield event
                if not resume.ended():
                    return
            except STREAM_ERRORS as error:
                time.sleep(resume.failed(error))

    def wait(self, task_id: str, *, timeout: float | None = None) -> TaskView:
        """The task once it has finished (completed, failed or cancelled)."""
        task = self.get(task_id)
        resume = StreamResume(None, timeout=timeout)
        while task.status not in TERMINAL_STATUSES:
            for event in self.stream(task_id, after=resume.last_seq, timeout=resume.remaining()):
                resume.accept(event)
            task = self.get(task_id)
        return task

    def list_files(self, task_id: str) -> FileListing:
        return self._client.call(_calls.files(task_id))

    def list_artifacts(self, task_id: str) -> builtins.list[Artifact]:
        """Every artifact of the task, by name (every page)."""
        artifacts: builtins.list[Artifact] = []
        cursor = None
        while True:
            page = self._client.call(_calls.artifacts(task_id, cursor))
            artifacts.extend(page.data)
            cursor = _calls.next_page(cursor, page.next_cursor)
            if cursor is None:
                return artifacts

    def webhook_deliveries(self, task_id: str) -> DeliveryList:
        """Every delivery of the task's webhooks, newest first (every page)."""
        deliveries = self._client.call(_calls.webhook_deliveries(task_id))
        cursor = _calls.next_page(None, deliveries.next_cursor)
        while cursor is not None:
            page = self._client.call(_calls.webhook_deliveries(task_id, cursor))
            deliveries = DeliveryList(data=[*deliveries.data, *page.data], next_cursor=None)
            cursor = _calls.next_page(cursor, page.next_cursor)
        return deliveries

    def download_file(self, task_id: str, path: str, dest: str | os.PathLike[str]) -> Path:
        """Saves the workspace file `path` to `dest`."""
        return self._client.download(_calls.file_download(task_id, path), dest)

    def download_archive(self, task_id: str, dest: str | os.PathLike[str], *, format: str = "tar.gz") -> Path:
        """Saves the whole workspace to `dest`, as `tar.gz` or `zip`."""
        return self._client.download(_calls.archive_download(task_id, format), dest)

    def download_artifact(self, task_id: str, name: str, dest: str | os.PathLike[str]) -> Path:
        """Saves the artifact `name` (see `list_artifacts`) to `dest`."""
        return self._client.download(_calls.artifact_download(task_id, name), dest)
