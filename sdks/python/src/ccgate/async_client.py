"""The asyncio client: `AsyncClient(base_url, api_key)`, the same surface as `Client`
with coroutines and async iterators."""

from __future__ import annotations

import builtins
import asyncio
import os
from collections.abc import AsyncIterator, Mapping
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


class AsyncClient:
    """A gateway at `base_url`, used with `api_key`, from asyncio code."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self._http = httpx.AsyncClient(transport=transport, **http_options(base_url, api_key, timeout))
        self.tasks = AsyncTasks(self)
        self.webhooks = Webhooks()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def execute(
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
        """`Client.execute`, awaited."""
        fields["wait_seconds"] = wait_seconds
        call = _calls.create(prompt, fields, files, archive, archive_name, idempotency_key, path="/v1/execute")
        call = _calls.execute(call, wait_seconds)
        return await self.call(call)

    async def call(self, call: Call[T]) -> T:
        response = await self.send(call)
        try:
            await response.aread()
            return call.parse(response)
        finally:
            await response.aclose()

    async def send(self, call: Call[Any]) -> httpx.Response:
        attempt = 0
        while True:
            response = await self._http.send(call.build(self._http), stream=True)
            if response.is_success:
                return response
            await response.aread()
            await response.aclose()
            error = api_error(response)
            delay = self.retry.delay(response.status_code, error.retry_after, attempt)
            if delay is None:
                raise error
            await asyncio.sleep(delay)
            attempt += 1

    async def download(self, call: Call[Any], dest: str | os.PathLike[str]) -> Path:
        target, partial = download_target(dest)
        response = await self.send(call)
        try:
            with partial.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    out.write(chunk)
        finally:
            await response.aclose()
        partial.replace(target)
        return target


class AsyncTasks:
    """`Tasks`, for `AsyncClient`: the same methods, awaited; `list` and `stream` are
    async iterators."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(
        self,
        prompt: str,
        *,
        files: Mapping[str, FileSource] | None = None,
        archive: ArchiveSource | None = None,
        archive_name: str | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> TaskView:
        return await self._client.call(_calls.create(prompt, fields, files, archive, archive_name, idempotency_key))

    async def get(self, task_id: str) -> TaskView:
        return await self._client.call(_calls.get(task_id))

    async def cancel(self, task_id: str) -> TaskView:
        return await self._client.call(_calls.cancel(task_id))

    async def send_message(self, task_id: str, prompt: str, *, delivery: str | None = None) -> TaskView:
        return await self._client.call(_calls.message(task_id, prompt, delivery))

    async def page(
        self,
        *,
        cursor: str | None = None,
        status: TaskStatus | str | None = None,
        created_after: str | None = None,
        limit: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> TaskPage:
        return await self._client.call(_calls.page(cursor, status, created_after, limit, metadata))

    async def list(self, **filters: Any) -> AsyncIterator[TaskView]:
        cursor = None
        while True:
            page = await self.page(cursor=cursor, **filters)
            for task in page.data:
                yield task
            cursor = _calls.next_page(cursor, page.next_cursor)
            if cursor is None:
                return

    async def stream(
        self, task_id: str, *, after: int | None = None, timeout: float | None = None
    ) -> AsyncIterator[TaskEvent]:
        resume = StreamResume(after, timeout=timeout)
        while True:
            try:
                response = await self._client.send(_calls.events(task_id, resume.headers()))
                try:
                    parser = SseParser()
                    async for line in response.aiter_lines():
                        resume.check_deadline()
                        event = parser.feed(line)
                        if event is not None and resume.accept(event):
                            yield event
                finally:
                    await response.aclose()
                if not resume.ended():
                    return
            except STREAM_ERRORS as error:
                await asyncio.sleep(resume.failed(error))

    async def wait(self, task_id: str, *, timeout: float | None = None) -> TaskView:
        task = await self.get(task_id)
        resume = StreamResume(None, timeout=timeout)
        while task.status not in TERMINAL_STATUSES:
            async for event in self.stream(task_id, after=resume.last_seq, timeout=resume.remaining()):
                resume.accept(event)
            task = await self.get(task_id)
        return task

    async def list_files(self, task_id: str) -> FileListing:
        return await self._client.call(_calls.files(task_id))

    async def list_artifacts(self, task_id: str) -> builtins.list[Artifact]:
        """Every artifact of the task, by name (every page)."""
        artifacts: builtins.list[Artifact] = []
        cursor = None
        while True:
            page = await self._client.call(_calls.artifacts(task_id, cursor))
            artifacts.extend(page.data)
            cursor = _calls.next_page(cursor, page.next_cursor)
            if cursor is None:
                return artifacts

    async def webhook_deliveries(self, task_id: str) -> DeliveryList:
        """Every delivery of the task's webhooks, newest first (every page)."""
        deliveries = await self._client.call(_calls.webhook_deliveries(task_id))
        cursor = _calls.next_page(None, deliveries.next_cursor)
        while cursor is not None:
            page = await self._client.call(_calls.webhook_deliveries(task_id, cursor))
            deliveries = DeliveryList(data=[*deliveries.data, *page.data], next_cursor=None)
            cursor = _calls.next_page(cursor, page.next_cursor)
        return deliveries

    async def download_file(self, task_id: str, path: str, dest: str | os.PathLike[str]) -> Path:
        return await self._client.download(_calls.file_download(task_id, path), dest)

    async def download_archive(self, task_id: str, dest: str | os.PathLike[str], *, format: str = "tar.gz") -> Path:
        return await self._client.download(_calls.archive_download(task_id, format), dest)

    async def download_artifact(self, task_id: str, name: str, dest: str | os.PathLike[str]) -> Path:
        return await self._client.download(_calls.artifact_download(task_id, name), dest)
