"""Errors the client raises: one class per kind of refusal, each carrying the
gateway's problem document (RFC 9457) and the JSON Pointers of the invalid fields."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx


@dataclass(frozen=True)
class FieldProblem:
    """One invalid field: where (a JSON Pointer such as `/prompt` or `/parts/archive`) and why."""

    pointer: str
    message: str


class CcgateError(Exception):
    """Anything this client raises on purpose."""


@dataclass
class ApiError(CcgateError):
    """The gateway refused a request; `errors` names the fields, `retry_after` (seconds)
    is set when the gateway said when to try again."""

    status: int
    type: str
    title: str
    detail: str
    errors: list[FieldProblem] = field(default_factory=list)
    retry_after: float | None = None

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.title}: {self.detail}")

    @property
    def pointers(self) -> list[str]:
        """The JSON Pointers of the invalid fields, in the gateway's order."""
        return [error.pointer for error in self.errors]


class BadRequestError(ApiError):
    """400: the request could not be read."""


class AuthenticationError(ApiError):
    """401: no key, or an unknown or revoked one."""


class BudgetExceededError(ApiError):
    """402: the key's spending or token budget is used up."""


class PermissionDeniedError(ApiError):
    """403: the key lacks the scope, or the option is not allowed."""


class NotFoundError(ApiError):
    """404: no such task (or not this key's)."""


class ConflictError(ApiError):
    """409: the task is not in a state that takes this request."""


class GoneError(ApiError):
    """410: the workspace or artifacts were deleted by the retention policy."""


class ValidationError(ApiError):
    """422: invalid fields, named in `errors` by JSON Pointer."""


class RateLimitedError(ApiError):
    """429: too many requests, uploads or streams; see `retry_after`."""


class UnavailableError(ApiError):
    """503: overloaded or shutting down; see `retry_after`."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: BudgetExceededError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    422: ValidationError,
    429: RateLimitedError,
    503: UnavailableError,
}


class StreamError(CcgateError):
    """An event stream could not be resumed after repeated connection failures."""


class WaitTimeout(CcgateError):
    """`wait` gave up before the task finished."""


class WebhookVerificationError(CcgateError):
    """A webhook's signature or timestamp did not verify: do not trust its body."""


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: the gateway sends whole seconds; an HTTP date is read too."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def api_error(response: httpx.Response) -> ApiError:
    """The error for a refused response, from its problem document when it has one."""
    try:
        problem = json.loads(response.content)
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        problem = {}
    raw_errors = problem.get("errors")
    errors = [
        FieldProblem(str(item.get("pointer", "")), str(item.get("message", "")))
        for item in (raw_errors if isinstance(raw_errors, list) else [])
        if isinstance(item, dict)
    ]
    cls = _BY_STATUS.get(response.status_code, ApiError)
    return cls(
        status=response.status_code,
        type=str(problem.get("type", "about:blank")),
        title=str(problem.get("title", response.reason_phrase)),
        detail=str(problem.get("detail", response.text[:500])),
        errors=errors,
        retry_after=retry_after_seconds(response.headers.get("retry-after")),
    )
