"""The SDK against a live gateway: create with files, stream, follow up, cancel,
artifacts, pages, webhooks, a 422 and a 429 — the real CLI and the scripted model."""

from __future__ import annotations

import asyncio
import io
import queue
import tarfile
import time
import uuid
from pathlib import Path

import httpx
import pytest
from conftest import Gateway
from scripts import script

import ccgate
from ccgate import RetryPolicy, TaskStatus, webhooks


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.fixture
def client(gateway: Gateway):
    with ccgate.Client(gateway.url, gateway.key) as client:
        yield client


def test_create_with_files_stream_artifacts_and_webhook(gateway: Gateway, client: ccgate.Client, tmp_path: Path):
    local = tmp_path / "local.txt"
    local.write_text("from disk\n")
    task = client.tasks.create(
        script("Report", "mkdir -p out && cat notes/todo.txt src/app.py local.txt > out/report.txt", answer="Reported"),
        files={"notes/todo.txt": "remember the milk\n", "local.txt": local},
        archive=tar_gz({"src/app.py": b"print('hi')\n"}),
        archive_name="src.tar.gz",
        artifacts=["out/*"],
        webhook={"url": gateway.receiver.url, "events": ["task.completed"]},
    )
    assert task.status == TaskStatus.queued

    events = list(client.tasks.stream(task.id))
    seqs = [event.seq for event in events]
    assert seqs == sorted(set(seqs)) and seqs[0] == 1, seqs
    assert events[-1].is_terminal and events[-1].status == TaskStatus.completed
    assert any(event.type == "tool_use" and event.data["tool"] == "Bash" for event in events)

    done = client.tasks.get(task.id)
    assert done.status == TaskStatus.completed and done.result is not None and done.result.text == "Reported"
    expected = b"remember the milk\nprint('hi')\nfrom disk\n"
    [artifact] = client.tasks.list_artifacts(task.id)
    assert (artifact.name, artifact.size) == ("report.txt", len(expected))
    assert client.tasks.download_artifact(task.id, artifact.name, tmp_path / "a/report.txt").read_bytes() == expected
    assert client.tasks.download_file(task.id, "out/report.txt", tmp_path / "f.txt").read_bytes() == expected
    saved = client.tasks.download_archive(task.id, tmp_path / "ws.tar.gz")
    with tarfile.open(saved) as archive:
        assert "out/report.txt" in {name.removeprefix("./") for name in archive.getnames()}
    assert {f.path for f in client.tasks.list_files(task.id).data} >= {"notes/todo.txt", "src/app.py", "out/report.txt"}

    # The webhook the gateway sent for it verifies with the key's secret, and only so.
    hook = receive_webhook(gateway, task.id)
    payload = webhooks.verify(gateway.webhook_secret, hook.headers, hook.body)
    assert (payload["type"], payload["data"]["status"]) == ("task.completed", "completed")
    with pytest.raises(ccgate.WebhookVerificationError):
        webhooks.verify(gateway.webhook_secret, hook.headers, hook.body.replace(b"completed", b"failed"))
    with pytest.raises(ccgate.WebhookVerificationError):
        webhooks.verify(gateway.webhook_secret, hook.headers, hook.body, now=time.time() + 3600)
    other = gateway.create_key()["webhook_secret"]
    with pytest.raises(ccgate.WebhookVerificationError):
        webhooks.verify(other, hook.headers, hook.body)
    # During a rotation, either secret verifies.
    assert webhooks.verify([other, gateway.webhook_secret], hook.headers, hook.body)["data"]["id"] == task.id


def receive_webhook(gateway: Gateway, task_id: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            hook = gateway.receiver.received.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if task_id.encode() in hook.body:
            return hook
    raise AssertionError(f"no webhook for {task_id} within {timeout} s")


def test_follow_up_continues_the_workspace(client: ccgate.Client):
    task = client.tasks.create(script("Write", "echo hello > hello.txt", answer="Wrote"))
    assert client.tasks.wait(task.id, timeout=60).status == TaskStatus.completed
    queued = client.tasks.send_message(task.id, script("Append", "echo world >> hello.txt", answer="Appended"))
    assert queued.status == TaskStatus.queued
    done = client.tasks.wait(task.id, timeout=60)
    assert (done.status, len(done.turns), done.result and done.result.text) == (TaskStatus.completed, 2, "Appended")
    listing = {f.path: f.size for f in client.tasks.list_files(task.id).data}
    assert listing["hello.txt"] == len("hello\nworld\n")


def test_cancel_a_slow_task(client: ccgate.Client):
    slow = client.tasks.create(script("Wait", "echo busy && sleep 60", answer="waited"))
    for event in client.tasks.stream(slow.id, timeout=30):
        if event.type == "tool_use":
            break
    cancelled = client.tasks.cancel(slow.id)
    assert cancelled.status == TaskStatus.cancelled
    assert client.tasks.wait(slow.id, timeout=30).status == TaskStatus.cancelled


def test_execute_and_pages_of_the_list(client: ccgate.Client):
    tag = uuid.uuid4().hex
    made = [client.execute(f"Say {n}", wait_seconds=60, metadata={"batch": tag}) for n in range(3)]
    assert [(t.status, t.result and t.result.text) for t in made] == [
        (TaskStatus.completed, f"ok: Say {n}") for n in range(3)
    ]
    first = client.tasks.page(limit=2, metadata={"batch": tag})
    assert len(first.data) == 2 and first.next_cursor
    listed = [task.id for task in client.tasks.list(limit=2, metadata={"batch": tag})]
    assert listed == [task.id for task in reversed(made)]  # newest first, across two pages


def test_a_retried_create_makes_one_task(client: ccgate.Client):
    key = f"sdk-test-{uuid.uuid4()}"
    first = client.tasks.create("Say once", idempotency_key=key)
    again = client.tasks.create("Say once", idempotency_key=key)
    assert first.id == again.id


def test_validation_errors_name_the_field(client: ccgate.Client):
    with pytest.raises(ccgate.ValidationError) as refused:
        client.tasks.create("   ")
    assert refused.value.status == 422 and "/prompt" in refused.value.pointers
    with pytest.raises(ccgate.ValidationError) as refused:
        client.tasks.create("Unpack", archive=tar_gz({"../escape.txt": b"x"}), archive_name="src.tgz")
    assert "/parts/archive" in refused.value.pointers, refused.value.errors
    with pytest.raises(ccgate.ValidationError) as refused:
        client.tasks.create("Place", files={"ok.txt": "fine", "/etc/passwd": "no"})
    assert "/parts/file1" in refused.value.pointers, refused.value.errors
    with pytest.raises(ccgate.CcgateError, match="tar.gz, .tgz or .zip"):
        client.tasks.create("Unpack", archive=b"x", archive_name="src.rar")
    with pytest.raises(ccgate.NotFoundError):
        client.tasks.get("tsk_00000000000000000000000000")


def test_rate_limits_are_retried_after_retry_after(gateway: Gateway):
    limited = gateway.create_key(name="limited", rate_limit_per_minute=30)["secret"]
    with ccgate.Client(gateway.url, limited, retry=RetryPolicy(max_retries=0)) as impatient:
        with pytest.raises(ccgate.RateLimitedError) as refused:
            for _ in range(40):
                impatient.tasks.page(limit=1)
    assert refused.value.status == 429 and refused.value.retry_after is not None and refused.value.retry_after >= 1
    # The default policy waits as told and then gets its answer: every request succeeds,
    # and once the bucket is empty again one of them waits for it.
    with ccgate.Client(gateway.url, limited) as patient:
        waited = 0.0
        for _ in range(40):
            started = time.monotonic()
            assert patient.tasks.page(limit=1).data == []
            waited = max(waited, time.monotonic() - started)
            if waited >= 0.9:
                break
        assert waited >= 0.9


class DropAfterFirstEvent(httpx.HTTPTransport):
    """Breaks the first event stream after its first event, as a network would."""

    def __init__(self) -> None:
        super().__init__()
        self.resumed_with: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if not request.url.path.endswith("/events"):
            return response
        self.resumed_with.append(request.headers.get("last-event-id"))
        if len(self.resumed_with) > 1:
            return response
        return httpx.Response(response.status_code, headers=response.headers, stream=_Cut(response))


class _Cut(httpx.SyncByteStream):
    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    def __iter__(self):
        buffered = b""
        for chunk in self.response.stream:
            buffered += chunk
            if b"\n\n" in buffered:
                yield buffered[: buffered.index(b"\n\n") + 2]
                break
        self.response.close()
        raise httpx.RemoteProtocolError("connection dropped")


class DropAfterFirstEventAsync(httpx.AsyncHTTPTransport):
    """`DropAfterFirstEvent`, for the async client."""

    def __init__(self) -> None:
        super().__init__()
        self.resumed_with: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if not request.url.path.endswith("/events"):
            return response
        self.resumed_with.append(request.headers.get("last-event-id"))
        if len(self.resumed_with) > 1:
            return response
        return httpx.Response(response.status_code, headers=response.headers, stream=_CutAsync(response))


class _CutAsync(httpx.AsyncByteStream):
    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    async def __aiter__(self):
        buffered = b""
        async for chunk in self.response.stream:
            buffered += chunk
            if b"\n\n" in buffered:
                yield buffered[: buffered.index(b"\n\n") + 2]
                break
        await self.response.aclose()
        raise httpx.RemoteProtocolError("connection dropped")


def test_a_dropped_stream_resumes_after_the_last_event(gateway: Gateway, client: ccgate.Client):
    task = client.tasks.create(script("Two steps", "echo one", answer="Done"))
    client.tasks.wait(task.id, timeout=60)
    expected = [event.seq for event in client.tasks.stream(task.id)]
    transport = DropAfterFirstEvent()
    with ccgate.Client(gateway.url, gateway.key, transport=transport) as flaky:
        seen = [event.seq for event in flaky.tasks.stream(task.id)]
    assert seen == expected
    assert transport.resumed_with[:2] == [None, "1"]

    async def resumed_async() -> list[int]:
        async with ccgate.AsyncClient(gateway.url, gateway.key, transport=async_transport) as flaky:
            return [event.seq async for event in flaky.tasks.stream(task.id)]

    async_transport = DropAfterFirstEventAsync()
    assert asyncio.run(resumed_async()) == expected
    assert async_transport.resumed_with[:2] == [None, "1"]


def test_the_async_client(gateway: Gateway, tmp_path: Path):
    async def scenario() -> None:
        async with ccgate.AsyncClient(gateway.url, gateway.key) as client:
            task = await client.tasks.create(
                script("Write", "echo async > out.txt", answer="Wrote"),
                files={"in.txt": b"x"},
                metadata={"async": "yes"},
            )
            types = [event.type async for event in client.tasks.stream(task.id)]
            assert "tool_use" in types and types[-1] == "status"
            done = await client.tasks.wait(task.id)
            assert done.status == TaskStatus.completed
            saved = await client.tasks.download_file(task.id, "out.txt", tmp_path / "out.txt")
            assert saved.read_text() == "async\n"
            listed = [t.id async for t in client.tasks.list(metadata={"async": "yes"})]
            assert listed == [task.id]
            with pytest.raises(ccgate.ValidationError) as refused:
                await client.execute("Say hi", wait_seconds=-1)
            assert "/wait_seconds" in refused.value.pointers

    asyncio.run(scenario())
