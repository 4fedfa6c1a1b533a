"""The API's operations as `Call`s, shared by the sync and async clients."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ._core import ArchiveSource, Call, FileSource, create_call, model, request_body
from .errors import CcgateError
from .models import ArtifactList, DeliveryList, FileListing, TaskPage, TaskView


def _task(task_id: str, tail: str = "") -> str:
    # Ids and names are path segments: quoted, so none can reach another route.
    return f"/v1/tasks/{quote(task_id, safe='')}{tail}"


def create(
    prompt: str,
    fields: Mapping[str, Any],
    files: Mapping[str, FileSource] | None,
    archive: ArchiveSource | None,
    archive_name: str | None,
    idempotency_key: str | None,
    path: str = "/v1/tasks",
) -> Call[TaskView]:
    return create_call(
        path, model(TaskView), {"prompt": prompt, **fields}, files, archive, archive_name, idempotency_key
    )


# The longest `wait_seconds` the gateway grants by default (`tasks.max_wait_seconds`).
MAX_WAIT_SECONDS = 600


def execute(call: Call[TaskView], wait_seconds: int | None) -> Call[TaskView]:
    """`POST /v1/execute` (`call`, made by `create`), whose answer may take the whole
    wait: the request reads that long, and some margin."""
    wait = wait_seconds if wait_seconds is not None and wait_seconds >= 0 else MAX_WAIT_SECONDS
    call.read_timeout = wait + 30.0
    return call


def get(task_id: str) -> Call[TaskView]:
    return Call("GET", _task(task_id), model(TaskView))


def page(
    cursor: str | None,
    status: str | None,
    created_after: str | None,
    limit: int | None,
    metadata: Mapping[str, str] | None,
) -> Call[TaskPage]:
    params = request_body({"cursor": cursor, "status": status, "created_after": created_after, "limit": limit})
    params.update({f"metadata.{name}": value for name, value in (metadata or {}).items()})
    return Call("GET", "/v1/tasks", model(TaskPage), params=params)


def cancel(task_id: str) -> Call[TaskView]:
    return Call("POST", _task(task_id, "/cancel"), model(TaskView))


def message(task_id: str, prompt: str, delivery: str | None) -> Call[TaskView]:
    body = request_body({"prompt": prompt, "delivery": delivery})
    return Call("POST", _task(task_id, "/messages"), model(TaskView), json=body)


def files(task_id: str) -> Call[FileListing]:
    return Call("GET", _task(task_id, "/files"), model(FileListing))


# Lists read whole by the SDK ask for the largest pages the API gives.
WHOLE_LIST_PAGE = 200


def _page_params(cursor: str | None) -> dict[str, Any]:
    return {"limit": WHOLE_LIST_PAGE, **({"cursor": cursor} if cursor else {})}


def next_page(cursor: str | None, next_cursor: str | None) -> str | None:
    """The cursor of the page after the one `cursor` asked for; `None` after the last.
    A list that hands back the cursor it was asked with would never end (a proxy
    that caches without the query, say): that is an error, not a loop."""
    if next_cursor is not None and next_cursor == cursor:
        raise CcgateError(f"the list answered the same page again (cursor {cursor!r})")
    return next_cursor or None


def artifacts(task_id: str, cursor: str | None = None) -> Call[ArtifactList]:
    return Call("GET", _task(task_id, "/artifacts"), model(ArtifactList), params=_page_params(cursor))


def webhook_deliveries(task_id: str, cursor: str | None = None) -> Call[DeliveryList]:
    return Call("GET", _task(task_id, "/webhook-deliveries"), model(DeliveryList), params=_page_params(cursor))


def events(task_id: str, headers: dict[str, str]) -> Call[None]:
    return Call("GET", _task(task_id, "/events"), lambda _: None, headers={"Accept": "text/event-stream", **headers})


def file_download(task_id: str, path: str) -> Call[None]:
    return Call("GET", _task(task_id, "/files/" + quote(path.lstrip("/"))), lambda _: None)


def archive_download(task_id: str, format: str) -> Call[None]:
    return Call("GET", _task(task_id, "/archive"), lambda _: None, params={"format": format})


def artifact_download(task_id: str, name: str) -> Call[None]:
    return Call("GET", _task(task_id, "/artifacts/" + quote(name, safe="")), lambda _: None)
