"""What the sync and async clients share: request descriptions, the retry decision,
multipart bodies, the SSE parser and the resume state of an event stream. Nothing
here does I/O, so both clients run the same decisions."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel

from .errors import CcgateError, StreamError, WaitTimeout
from .models import TaskStatus

T = TypeVar("T")

VERSION = "0.1.0"

# A file to place in the workspace: text, bytes, or a local file read when the call is made.
FileSource = str | bytes | os.PathLike[str]
# An archive: its bytes (then `archive_name` tells the format) or a local `.tar.gz`, `.tgz` or `.zip`.
ArchiveSource = bytes | os.PathLike[str]

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")

TERMINAL_STATUSES = frozenset({TaskStatus.completed, TaskStatus.failed, TaskStatus.cancelled})


@dataclass(frozen=True)
class Upload:
    """A multipart task body: the task's JSON, file parts placed at their workspace path,
    and an archive (`.tar.gz`, `.tgz` or `.zip`, told by its name) unpacked into the workspace."""

    task: dict[str, Any]
    files: list[tuple[str, bytes]]
    archive: tuple[str, bytes] | None

    def form(self) -> tuple[dict[str, str], list[tuple[str, tuple[str, bytes, str]]]]:
        """httpx's `data` and `files` for this body; the `task` part goes first."""
        parts = [(f"file{n}", (path, content, "application/octet-stream")) for n, (path, content) in enumerate(self.files)]
        if self.archive is not None:
            name, content = self.archive
            parts.append(("archive", (name, content, "application/octet-stream")))
        return {"task": json.dumps(self.task)}, parts


@dataclass
class Call(Generic[T]):
    """One API request and how to read its answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, Any] | None = None
    json: Any = None
    upload: Upload | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds the answer may take, when the gateway holds it on purpose (execute's wait).
    read_timeout: float | None = None

    def build(self, client: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """A fresh request (retries send the body again from the start)."""
        kwargs: dict[str, Any] = {"params": self.params, "headers": self.headers}
        if self.read_timeout is not None:
            kwargs["timeout"] = httpx.Timeout(client.timeout.connect, read=self.read_timeout)
        if self.upload is not None:
            kwargs["data"], kwargs["files"] = self.upload.form()
        elif self.json is not None:
            kwargs["json"] = self.json
        return client.build_request(self.method, self.path, **kwargs)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of 429 and 503: after `Retry-After` when the gateway sends it, else with
    exponential backoff; never longer than `max_wait` seconds (a longer `Retry-After`
    is raised at once, for the caller to decide)."""

    max_retries: int = 3
    max_wait: float = 60.0
    base_delay: float = 0.5

    def delay(self, status: int, retry_after: float | None, attempt: int) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None to give up."""
        if status not in (429, 503) or attempt >= self.max_retries:
            return None
        wait = retry_after if retry_after is not None else self.base_delay * 2.0**attempt
        return wait if wait <= self.max_wait else None


def http_options(base_url: str, api_key: str, timeout: float) -> dict[str, Any]:
    """What both clients give httpx: the gateway, the key, and the timeouts (reads may
    wait between events of a quiet task: keep-alives come every 15 s)."""
    return {
        "base_url": base_url,
        "headers": {"Authorization": f"Bearer {api_key}", "User-Agent": f"ccgate-python/{VERSION}"},
        "timeout": httpx.Timeout(timeout, read=max(timeout, 45.0)),
    }


def download_target(dest: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Where a download ends up, and the file it is written to until it is complete."""
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target, target.with_name(target.name + ".part")


def model(cls: type[BaseModel]) -> Callable[[httpx.Response], Any]:
    """A parser reading the answer's JSON as `cls`."""
    return lambda response: cls.model_validate_json(response.content)


def no_content(_: httpx.Response) -> None:
    return None


def request_body(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON of a request from keyword arguments: models as JSON, unset ones left out."""
    body: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        body[name] = value.model_dump(mode="json", exclude_unset=True) if isinstance(value, BaseModel) else value
    return body


def create_call(
    path: str,
    parse: Callable[[httpx.Response], T],
    fields: Mapping[str, Any],
    files: Mapping[str, FileSource] | None,
    archive: ArchiveSource | None,
    archive_name: str | None,
    idempotency_key: str | None,
) -> Call[T]:
    """`POST /v1/tasks` or `/v1/execute`: JSON, or multipart when files or an archive
    come along, with an `Idempotency-Key` (generated unless given) that every retry of
    this call repeats, so a retried create never makes a second task."""
    body = request_body(fields)
    headers = {"Idempotency-Key": idempotency_key or f"sdk-{uuid.uuid4()}"}
    if not files and archive is None:
        return Call("POST", path, parse, json=body, headers=headers)
    upload = Upload(
        task=body,
        files=[(workspace_path, read_source(source)) for workspace_path, source in (files or {}).items()],
        archive=None if archive is None else (archive_filename(archive, archive_name), read_source(archive)),
    )
    return Call("POST", path, parse, upload=upload, headers=headers)


def read_source(source: FileSource) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, str):
        return source.encode()
    return Path(source).read_bytes()


def archive_filename(archive: ArchiveSource, name: str | None) -> str:
    """The archive part's filename, which tells the gateway its format (a name of any
    other kind would make the part a plain file)."""
    if isinstance(archive, bytes) and not name:
        raise CcgateError("archive_name is required with archive content (e.g. 'src.tar.gz' or 'src.zip')")
    filename = name or Path(os.fsdecode(archive)).name
    if not filename.lower().endswith(ARCHIVE_SUFFIXES):
        raise CcgateError(f"an archive's name ends with .tar.gz, .tgz or .zip, which {filename!r} does not")
    return filename


@dataclass(frozen=True)
class TaskEvent:
    """One event of a task's log: `seq` orders them; `data` is the whole event as the
    gateway sent it (its other fields depend on `type`)."""

    seq: int
    type: str
    at: str
    task_id: str
    data: dict[str, Any]

    @property
    def status(self) -> TaskStatus | None:
        """The task's new status, on `status` events."""
        value = self.data.get("status")
        if self.type != "status" or not isinstance(value, str):
            return None
        try:
            return TaskStatus(value)
        except ValueError:
            return None

    @property
    def is_terminal(self) -> bool:
        """A `status` event saying the task finished (completed, failed or cancelled)."""
        return self.status in TERMINAL_STATUSES

    @classmethod
    def parse(cls, data: str) -> TaskEvent:
        try:
            fields = json.loads(data)
            return cls(int(fields["seq"]), str(fields["type"]), str(fields["at"]), str(fields["task_id"]), fields)
        except (ValueError, KeyError, TypeError) as error:
            raise CcgateError(f"the gateway sent an event that is not one: {data[:200]!r}") from error


class SseParser:
    """Server-Sent Events, one line at a time (without its line ending)."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> TaskEvent | None:
        """The event this line completes, if any. Comments (keep-alives), `id`, `event`
        and `retry` lines complete nothing: the event's JSON carries its seq and type."""
        if line == "":
            if not self._data:
                return None
            data, self._data = "\n".join(self._data), []
            return TaskEvent.parse(data)
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value.removeprefix(" "))
        return None


class StreamResume:
    """Where an event stream is, so that a dropped connection resumes after the last
    event seen (`Last-Event-ID`) and no event is yielded twice."""

    def __init__(self, after: int | None, *, timeout: float | None = None, max_failures: int = 5) -> None:
        self.last_seq = after
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.max_failures = max_failures
        self._failures = 0
        self._new_on_connection = False
        self._last_terminal = False

    def remaining(self) -> float | None:
        """Seconds left before the deadline (None: no deadline)."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def check_deadline(self) -> None:
        """Raises `WaitTimeout` once the deadline has passed (checked on every line,
        keep-alives included, which the gateway sends every 15 s)."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise WaitTimeout("the task did not finish in time")

    def headers(self) -> dict[str, str]:
        return {"Last-Event-ID": str(self.last_seq)} if self.last_seq is not None else {}

    def accept(self, event: TaskEvent) -> bool:
        """True for an event not yielded before."""
        if self.last_seq is not None and event.seq <= self.last_seq:
            return False
        self.last_seq = event.seq
        self._new_on_connection = True
        self._last_terminal = event.is_terminal
        self._failures = 0
        return True

    def ended(self) -> bool:
        """The gateway closed the stream: True to connect again. It closes once the task
        is finished; a close after anything else is checked with one more connection,
        which ends at once, with nothing new, when the task is indeed done."""
        again = self._new_on_connection and not self._last_terminal
        self._new_on_connection = False
        return again

    def failed(self, error: Exception) -> float:
        """The connection broke: seconds to wait before resuming, or StreamError."""
        self._failures += 1
        if self._failures > self.max_failures:
            raise StreamError(f"the event stream broke {self._failures} times in a row: {error}") from error
        self._new_on_connection = False
        return min(5.0, 0.2 * 2.0**self._failures)


# Connection failures after which an event stream resumes.
STREAM_ERRORS = (httpx.TransportError,)
