"""Kubernetes naming rules in one place (DNS-1123, label syntax, length limits)."""

from __future__ import annotations

import re

LABEL_MAX = 63
SUBDOMAIN_MAX = 253

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")


def dns1123_label_problem(value: str) -> str | None:
    """Why `value` is not a DNS-1123 label (namespaces, workloads, teams), or None."""
    if len(value) > LABEL_MAX:
        return f"is {len(value)} characters; a DNS-1123 label has at most {LABEL_MAX}"
    if not _LABEL.fullmatch(value):
        return "must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit"
    return None


def dns1123_subdomain_problem(value: str) -> str | None:
    """Why `value` is not a DNS-1123 subdomain (object names), or None."""
    if len(value) > SUBDOMAIN_MAX:
        return f"is {len(value)} characters; a DNS-1123 subdomain has at most {SUBDOMAIN_MAX}"
    if not _SUBDOMAIN.fullmatch(value):
        return "must be a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"
    return None


def label_key_problem(key: str) -> str | None:
    """Why `key` is not a valid label/annotation key (`[prefix/]name`), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return "has an empty prefix before '/' (write 'example.com/name' or just 'name')"
    if prefix:
        problem = dns1123_subdomain_problem(prefix)
        if problem:
            return f"prefix {prefix!r} {problem}"
    if len(name) > LABEL_MAX:
        return f"name part is {len(name)} characters; at most {LABEL_MAX}"
    if not _LABEL_NAME.fullmatch(name):
        return "name part must be alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"
    return None


def label_value_problem(value: str) -> str | None:
    """Why `value` is not a valid label value (empty allowed), or None."""
    if len(value) > LABEL_MAX:
        return f"is {len(value)} characters; a label value has at most {LABEL_MAX}"
    if value and not _LABEL_NAME.fullmatch(value):
        return "must be alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"
    return None


def resource_name(namespace: str, name: str) -> str:
    """Pulumi logical name of a namespaced object.

    It deliberately omits the owning component: Pulumi URNs carry the parent's type but not its
    name, so an ExternalSecret that moves from one team's module to another keeps its URN and
    is updated in place instead of being deleted and re-created.
    """
    return f"{namespace}/{name}"


def secret_key_problem(key: str) -> str | None:
    """Why `key` cannot be a key of a Kubernetes Secret's data, or None."""
    if len(key) > SUBDOMAIN_MAX:
        return f"is {len(key)} characters; a Secret key has at most {SUBDOMAIN_MAX}"
    if not _SECRET_KEY.fullmatch(key) or key == "." or key.startswith(".."):
        return "must consist of alphanumerics, '-', '_' or '.', and not be '.' or start with '..' (a Kubernetes Secret key)"
    return None
