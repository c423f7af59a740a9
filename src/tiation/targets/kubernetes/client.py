"""A connection to one kubeconfig context, and API failures turned into one clear line each."""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any

from tiation.errors import TargetError
from tiation.redact import redact

REQUEST_TIMEOUT = (5.0, 30.0)  # connect, read (seconds)
_DEFAULT_KUBECONFIG = "~/.kube/config"


def _api_message(exc: Any) -> str:
    """The `message` of a Kubernetes Status body, else the HTTP reason."""
    body = getattr(exc, "body", None)
    if body:
        try:
            message = json.loads(body).get("message")
        except (ValueError, AttributeError):
            message = None
        if message:
            return str(message)
    return str(getattr(exc, "reason", "") or exc)


class KubeApi:
    """The API clients of one kubeconfig context (built on first use; the import costs ~0.3 s)."""

    def __init__(self, *, kubeconfig: str | None, context: str | None) -> None:
        self.kubeconfig = kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None
        self.context = context

    @property
    def where(self) -> str:
        """`context X of FILE`, for error messages."""
        path = self.kubeconfig or _DEFAULT_KUBECONFIG
        return f"context {self.context!r} of {path}" if self.context else f"the current context of {path}"

    @cached_property
    def client(self) -> Any:
        """The `kubernetes.client.ApiClient` of the context."""
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException

        path = self.kubeconfig or str(Path(_DEFAULT_KUBECONFIG).expanduser())
        if not Path(path).is_file():
            raise TargetError(f"kubeconfig {path} does not exist")
        try:
            contexts, current = config.list_kube_config_contexts(config_file=path)
        except ConfigException as exc:
            raise TargetError(f"kubeconfig {path}: {redact(str(exc))}") from None
        names = [c["name"] for c in contexts]
        if self.context is not None and self.context not in names:
            raise TargetError(
                f"kubeconfig {path} has no context {self.context!r} (contexts: {', '.join(names) or 'none'})"
            )
        if self.context is None and not current:
            raise TargetError(f"kubeconfig {path} has no current context; set kubernetes.context")
        try:
            api = config.new_client_from_config(config_file=path, context=self.context)
        except (ConfigException, OSError, ValueError) as exc:
            raise TargetError(f"kubeconfig {path}: {redact(str(exc))}") from None
        api.configuration.retries = 1
        return api

    @cached_property
    def core(self) -> Any:
        """`CoreV1Api`."""
        from kubernetes import client

        return client.CoreV1Api(self.client)

    @cached_property
    def apps(self) -> Any:
        """`AppsV1Api`."""
        from kubernetes import client

        return client.AppsV1Api(self.client)

    @property
    def server(self) -> str:
        """The API server URL of the context."""
        return str(self.client.configuration.host)

    def error(self, exc: BaseException, doing: str) -> TargetError:
        """One line for a failed API call: forbidden, unauthorized, unreachable, not found or invalid."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        if isinstance(exc, ApiException):
            status = exc.status or 0
            message = redact(_api_message(exc))
            if status == 403:
                return TargetError(f"forbidden (RBAC) while {doing} ({self.where}): {message}")
            if status == 401:
                return TargetError(
                    f"unauthorized while {doing}: the credentials of {self.where} were refused"
                )
            if status == 404:
                return TargetError(f"not found while {doing}: {message}")
            if status == 0:
                return TargetError(
                    f"cannot reach the Kubernetes API at {self.server} ({self.where}): {message}"
                )
            return TargetError(f"Kubernetes API said {status} while {doing}: {message}")
        if isinstance(exc, HTTPError | OSError):
            reason = getattr(exc, "reason", None) or exc
            text = redact(str(reason)).splitlines()[0]
            return TargetError(f"cannot reach the Kubernetes API at {self.server} ({self.where}): {text}")
        return TargetError(f"{doing}: {redact(str(exc))}")
