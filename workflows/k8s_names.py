"""Kubernetes and container-registry name rules, written once.

Namespaces, ServiceAccounts, Services, label keys and values, taints and image references all
have a grammar; a name outside it is accepted by every Python layer and refused only by the API
server or the kubelet, an hour later. The stack outputs contract (:mod:`workflows.contract`) and
the components that create these objects check them with these functions. Each returns the
reason a value is not valid, or ``None`` when it is.
"""

from __future__ import annotations

import re

#: RFC 1123 label: namespaces, most object names (63 characters at most).
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
#: RFC 1123 subdomain: ServiceAccounts, Secrets, ConfigMaps, label-key prefixes (253 at most).
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
#: RFC 1035 label: Services (start with a letter).
_SERVICE = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
#: The name part of a label key, and a non-empty label value (63 at most).
_QUALIFIED = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")

# The distribution reference grammar (registry[:port]/path[:tag][@digest]).
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}"
_IMAGE = re.compile(rf"(?:{_DOMAIN}/)?{_PATH_PART}(?:/{_PATH_PART})*(?::{_TAG})?(?:@{_DIGEST})?")


def _check(value: object, pattern: re.Pattern[str], longest: int, what: str) -> str | None:
    if not isinstance(value, str) or not value:
        return f"must be a non-empty string ({what})"
    if len(value) > longest:
        return f"is longer than {longest} characters ({what})"
    if not pattern.fullmatch(value):
        return f"is not {what}"
    return None


def name_problem(value: object) -> str | None:
    """Why ``value`` is not a namespace or object name (RFC 1123 label), or ``None``."""
    return _check(value, _LABEL, 63, "a Kubernetes name: lower-case letters, digits and '-'")


def subdomain_problem(value: object) -> str | None:
    """Why ``value`` is not a ServiceAccount/Secret name (RFC 1123 subdomain), or ``None``."""
    return _check(value, _SUBDOMAIN, 253, "a Kubernetes name: lower-case letters, digits, '-' and '.'")


def service_problem(value: object) -> str | None:
    """Why ``value`` is not a Service name (RFC 1035 label: starts with a letter), or ``None``."""
    return _check(value, _SERVICE, 63, "a Service name: a lower-case letter, then letters, digits, '-'")


def label_key_problem(value: object) -> str | None:
    """Why ``value`` is not a label (or taint) key ``[prefix/]name``, or ``None``."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string (a label key)"
    prefix, _, name = value.rpartition("/")
    if prefix and subdomain_problem(prefix):
        return f"is not a label key: prefix {prefix!r} is not a DNS subdomain"
    return _check(
        name, _QUALIFIED, 63, "a label key: letters, digits, '-', '_', '.' with an optional prefix/"
    )


def label_value_problem(value: object) -> str | None:
    """Why ``value`` is not a label (or taint) value (may be empty), or ``None``."""
    if value == "":
        return None
    return _check(value, _QUALIFIED, 63, "a label value: letters, digits, '-', '_', '.'")


def image_problem(value: object) -> str | None:
    """Why ``value`` is not a container image reference (``registry/path[:tag][@digest]``), or ``None``."""
    return _check(
        value, _IMAGE, 4096, "an image reference such as registry.example/tool:1.0 or tool@sha256:..."
    )
