"""Client for the ccgate HTTP API: Claude Code tasks, their events, files and webhooks.

    from ccgate import Client
    with Client("http://127.0.0.1:8080", "ccg_test_…") as client:
        task = client.tasks.create("Say hi")
        print(client.tasks.wait(task.id).result.text)
"""

from . import models, webhooks
from ._core import VERSION as __version__
from ._core import RetryPolicy, TaskEvent
from .async_client import AsyncClient, AsyncTasks
from .client import Client, Tasks
from .errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    CcgateError,
    ConflictError,
    FieldProblem,
    GoneError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    StreamError,
    UnavailableError,
    ValidationError,
    WaitTimeout,
    WebhookVerificationError,
)
from .models import TaskStatus, TaskView

__all__ = [
    "ApiError",
    "AsyncClient",
    "AsyncTasks",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "CcgateError",
    "Client",
    "ConflictError",
    "FieldProblem",
    "GoneError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RetryPolicy",
    "StreamError",
    "TaskEvent",
    "TaskStatus",
    "TaskView",
    "Tasks",
    "UnavailableError",
    "ValidationError",
    "WaitTimeout",
    "WebhookVerificationError",
    "__version__",
    "models",
    "webhooks",
]
