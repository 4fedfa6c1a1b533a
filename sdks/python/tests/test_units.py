"""The SDK's pure decisions: retries, problem documents, SSE, stream resumes, webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx
import pytest

import ccgate
from ccgate import RetryPolicy, webhooks
from ccgate._core import SseParser, StreamResume, TaskEvent
from ccgate.errors import api_error, retry_after_seconds


def test_retries_429_and_503_after_retry_after_within_the_cap():
    policy = RetryPolicy(max_retries=2, max_wait=10)
    assert policy.delay(429, 3.0, 0) == 3.0
    assert policy.delay(503, None, 1) == 1.0  # backoff when the gateway names no time
    assert policy.delay(503, 3.0, 2) is None  # out of retries
    assert policy.delay(429, 11.0, 0) is None  # longer than the caller will wait
    assert policy.delay(500, 1.0, 0) is None and policy.delay(422, None, 0) is None


def test_retry_after_in_seconds_or_as_a_date():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_a_problem_becomes_an_error_naming_its_fields():
    problem = {
        "type": "https://ccgate.dev/errors/validation-error",
        "title": "Invalid request",
        "status": 422,
        "detail": "2 invalid fields",
        "errors": [{"pointer": "/prompt", "message": "must not be blank"}, {"pointer": "/priority", "message": "x"}],
    }
    error = api_error(httpx.Response(422, json=problem, headers={"Retry-After": "2"}))
    assert isinstance(error, ccgate.ValidationError) and error.pointers == ["/prompt", "/priority"]
    assert (error.status, error.retry_after, error.errors[0].message) == (422, 2.0, "must not be blank")
    odd = api_error(httpx.Response(502, text="<html>bad gateway</html>"))
    assert type(odd) is ccgate.ApiError and odd.status == 502 and odd.errors == []


def event(seq: int, kind: str = "log", **fields: object) -> str:
    return json.dumps({"seq": seq, "type": kind, "at": "2026-12-05T00:00:00Z", "task_id": "tsk_1", **fields})


def test_sse_lines_make_events_and_skip_keep_alives():
    parser = SseParser()
    lines = [":", "", "id: 1", "event: status", f"data: {event(1, 'status', status='queued')}", "", "retry: 10", ""]
    made = [e for e in map(parser.feed, lines) if e is not None]
    assert [(e.seq, e.type, e.status) for e in made] == [(1, "status", ccgate.TaskStatus.queued)]
    with pytest.raises(ccgate.CcgateError):
        [parser.feed(line) for line in ["data: {\"seq\": 1}", ""]]


def test_a_stream_resumes_after_its_last_event_and_ends_when_the_task_did():
    resume = StreamResume(None)
    assert resume.headers() == {}
    assert resume.accept(TaskEvent.parse(event(1))) and resume.accept(TaskEvent.parse(event(2)))
    assert resume.headers() == {"Last-Event-ID": "2"}
    assert resume.failed(httpx.ReadError("dropped")) > 0
    assert not resume.accept(TaskEvent.parse(event(2)))  # replayed: not again
    assert resume.accept(TaskEvent.parse(event(3)))
    assert resume.ended()  # closed after a non-final event: look once more
    assert not resume.ended()  # that connection brought nothing new: done
    resume.accept(TaskEvent.parse(event(4, "status", status="completed")))
    assert not resume.ended()  # closed after the task finished: done
    for _ in range(5):
        resume.failed(httpx.ReadError("dropped"))
    with pytest.raises(ccgate.StreamError):
        resume.failed(httpx.ReadError("dropped"))


def test_a_deadline_raises_wait_timeout():
    resume = StreamResume(None, timeout=0)
    with pytest.raises(ccgate.WaitTimeout):
        resume.check_deadline()
    StreamResume(None).check_deadline()


def test_the_standard_webhooks_example_verifies():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = {
        "Webhook-Id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "Webhook-Timestamp": "1614265330",
        "Webhook-Signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    body = b'{"test": 2432232314}'
    assert webhooks.verify(secret, headers, body, now=1614265330 + 299) == {"test": 2432232314}
    with pytest.raises(ccgate.WebhookVerificationError, match="tolerance"):
        webhooks.verify(secret, headers, body, now=1614265330 - 301)
    with pytest.raises(ccgate.WebhookVerificationError, match="missing"):
        webhooks.verify(secret, {k: v for k, v in headers.items() if k != "Webhook-Id"}, body, now=1614265330)
    rotated = {**headers, "Webhook-Signature": "v1,bm90IGl0 " + headers["Webhook-Signature"]}
    assert webhooks.verify(secret, rotated, body.decode(), now=1614265330)["test"] == 2432232314
    # The same check where the other entry points are: `client.webhooks.verify`.
    for client in [ccgate.Client("http://127.0.0.1:9", "k"), ccgate.AsyncClient("http://127.0.0.1:9", "k")]:
        assert client.webhooks.verify(secret, headers, body, now=1614265330) == {"test": 2432232314}
        with pytest.raises(ccgate.WebhookVerificationError, match="tolerance"):
            client.webhooks.verify(secret, headers, body, now=1614265330 - 301)


def test_a_signature_over_another_body_does_not_verify():
    key = b"0" * 32
    secret = "whsec_" + base64.b64encode(key).decode()
    signed = base64.b64encode(hmac.new(key, b"m.1.{}", hashlib.sha256).digest()).decode()
    headers = {"webhook-id": "m", "webhook-timestamp": "1", "webhook-signature": f"v1,{signed}"}
    assert webhooks.verify(secret, headers, b"{}", now=1) == {}
    with pytest.raises(ccgate.WebhookVerificationError, match="no signature"):
        webhooks.verify(secret, headers, b'{"a": 1}', now=1)
    with pytest.raises(ccgate.WebhookVerificationError, match="not a whsec_"):
        webhooks.verify("whsec_!!", headers, b"{}", now=1)


def test_execute_waits_as_long_as_it_asked_the_gateway_to():
    from ccgate import _calls

    client = httpx.Client(timeout=5)

    def execute(wait_seconds: int | None) -> httpx.Request:
        call = _calls.create("Say hi", {"wait_seconds": wait_seconds}, None, None, None, None, path="/v1/execute")
        return _calls.execute(call, wait_seconds).build(client)

    assert execute(300).extensions["timeout"]["read"] == 330.0
    assert execute(None).extensions["timeout"]["read"] == 630.0
    assert _calls.get("tsk_1").build(client).extensions["timeout"]["read"] == 5


def test_a_retried_create_sends_the_same_key_and_body_again():
    sent: list[httpx.Request] = []
    task = {"id": "tsk_1", "status": "queued"}

    def gateway(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if len(sent) == 1:
            return httpx.Response(429, json={"type": "t", "title": "Too many", "status": 429, "detail": "d"},
                                  headers={"Retry-After": "0"})
        return httpx.Response(503, headers={"Retry-After": "0"}) if len(sent) == 2 else httpx.Response(202, json=task)

    client = ccgate.Client("http://gateway", "ccg_test_x", transport=httpx.MockTransport(gateway))
    from ccgate import _calls

    call = _calls.create("Go", {}, {"a.txt": "A"}, b"tgz", "a.tgz", None)
    client.send(call).close()
    assert len(sent) == 3
    keys = {request.headers["idempotency-key"] for request in sent}
    # The same parts each time (each body has its own multipart boundary).
    bodies = {r.read().replace(r.headers["content-type"].split("boundary=")[1].encode(), b"B") for r in sent}
    assert len(keys) == 1 and next(iter(keys)).startswith("sdk-")
    assert len(bodies) == 1 and b'name="archive"; filename="a.tgz"' in next(iter(bodies))


def test_lists_read_whole_follow_every_page():
    artifact = {"name": "", "path": "", "size": 1, "sha256": "", "content_type": "text/plain", "turn": 0}
    delivery = {"id": "", "event_type": "task.completed", "url": "https://x", "status": "delivered",
                "created_at": "2026-12-06T00:00:00Z", "attempts": []}
    pages = {
        "artifacts": {None: (["a", "b"], "b"), "b": (["c"], None)},
        "webhook-deliveries": {None: (["msg_2"], "msg_2"), "msg_2": (["msg_1"], None)},
    }
    asked: list[tuple[str, str | None, str]] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        kind = request.url.path.rsplit("/", 1)[1]
        cursor = request.url.params.get("cursor")
        asked.append((kind, cursor, request.url.params["limit"]))
        names, next_cursor = pages[kind][cursor]
        item = artifact if kind == "artifacts" else delivery
        key = "name" if kind == "artifacts" else "id"
        return httpx.Response(200, json={"data": [{**item, key: n} for n in names], "next_cursor": next_cursor})

    client = ccgate.Client("http://gateway", "k", transport=httpx.MockTransport(gateway))
    assert [a.name for a in client.tasks.list_artifacts("tsk_1")] == ["a", "b", "c"]
    deliveries = client.tasks.webhook_deliveries("tsk_1")
    assert ([d.id for d in deliveries.data], deliveries.next_cursor) == (["msg_2", "msg_1"], None)
    assert asked == [("artifacts", None, "200"), ("artifacts", "b", "200"),
                     ("webhook-deliveries", None, "200"), ("webhook-deliveries", "msg_2", "200")]
    # A list that answers the same page again (a proxy caching without the query) is
    # an error, not an endless loop.
    pages["artifacts"]["b"] = (["c"], "b")
    with pytest.raises(ccgate.CcgateError, match="same page again"):
        client.tasks.list_artifacts("tsk_1")


def test_a_task_list_that_repeats_its_cursor_is_an_error_not_a_loop():
    def gateway(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [], "next_cursor": "tsk_same"})

    client = ccgate.Client("http://gateway", "k", transport=httpx.MockTransport(gateway))
    with pytest.raises(ccgate.CcgateError, match="same page again"):
        list(client.tasks.list())


class _Events(httpx.SyncByteStream):
    """An event stream that never ends on its own, and says when it was closed."""

    def __init__(self) -> None:
        self.closed = False

    def __iter__(self):
        yield f"data: {event(1)}\n\n".encode()
        while not self.closed:
            yield b":\n\n"

    def close(self) -> None:
        self.closed = True


def test_a_stream_left_early_closes_its_connection():
    stream = _Events()
    transport = httpx.MockTransport(lambda _: httpx.Response(200, stream=stream))
    client = ccgate.Client("http://gateway", "ccg_test_x", transport=transport)
    for first in client.tasks.stream("tsk_1"):
        assert first.seq == 1
        break
    assert stream.closed
