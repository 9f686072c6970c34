"""Slack request signing (``v0`` scheme), as pure functions."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_VERSION", "sign", "signed_headers"]

SIGNATURE_VERSION = "v0"


def sign(signing_secret: str, timestamp: int | str, body: bytes) -> str:
    """``v0=`` + hex HMAC-SHA256 of ``b"v0:" + timestamp + b":" + body``."""
    base = b"%s:%s:%s" % (SIGNATURE_VERSION.encode(), str(timestamp).encode(), body)
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def signed_headers(
    signing_secret: str,
    timestamp: int | str,
    body: bytes,
    *,
    content_type: str | None = None,
    retry_num: int | None = None,
    retry_reason: str | None = None,
) -> dict[str, str]:
    """The headers Slack sends with a request: timestamp, signature, optional retry info."""
    headers = {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": sign(signing_secret, timestamp, body),
    }
    if content_type is not None:
        headers["Content-Type"] = content_type
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
    elif retry_reason is not None:
        headers["X-Slack-Retry-Reason"] = retry_reason
    return headers
