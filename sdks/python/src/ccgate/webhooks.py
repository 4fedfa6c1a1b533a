"""Verifying the gateway's webhooks (Standard Webhooks): `verify(secret, headers, body)`,
also `client.webhooks.verify(...)` on a `Client` or `AsyncClient`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import WebhookVerificationError

DEFAULT_TOLERANCE_SECONDS = 300


def verify(
    secret: str | Iterable[str],
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> dict[str, Any]:
    """The delivery's JSON (`{"type", "timestamp", "data"}`) once its signature and
    timestamp check out; `WebhookVerificationError` otherwise.

    `secret` is the key's `whsec_…` webhook secret, or several of them while a
    rotation is under way (the gateway then signs with both). `body` is the request
    body exactly as received; `tolerance` (seconds) refuses old or future timestamps,
    i.e. replays."""
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        message_id = lowered["webhook-id"]
        timestamp_text = lowered["webhook-timestamp"]
        signatures = lowered["webhook-signature"]
    except KeyError as missing:
        raise WebhookVerificationError(f"the {missing.args[0]} header is missing") from None
    try:
        timestamp = int(timestamp_text)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a number") from None
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance: a replay, or a clock off")
    payload = body.encode() if isinstance(body, str) else body
    signed = f"{message_id}.{timestamp}.".encode() + payload
    offered = [part.split(",", 1)[1] for part in signatures.split() if part.startswith("v1,")]
    secrets = [secret] if isinstance(secret, str) else list(secret)
    for key in map(_key_bytes, secrets):
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return _delivery(payload)
    raise WebhookVerificationError("no signature matches the secret")


def _key_bytes(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        raise WebhookVerificationError("the secret is not a whsec_ secret (base64 after the prefix)") from None


def _delivery(payload: bytes) -> dict[str, Any]:
    try:
        delivery = json.loads(payload)
    except ValueError:
        raise WebhookVerificationError("the signed body is not JSON") from None
    if not isinstance(delivery, dict):
        raise WebhookVerificationError("the signed body is not a JSON object")
    return delivery



class Webhooks:
    """`client.webhooks`: the same `verify`, where the other entry points are. It needs
    no connection: a delivery is checked against the key's webhook secret alone."""

    verify = staticmethod(verify)
