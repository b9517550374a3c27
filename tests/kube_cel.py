"""Kubernetes CEL for tests: one expression evaluated as the API server would (see test_admission.py)."""

from __future__ import annotations

from typing import Any

import cel
from cel.stdlib import add_stdlib_to_context


def evaluate(expression: str, activation: dict[str, Any]) -> Any:
    """Evaluate one Kubernetes CEL expression; a parse or evaluation error fails the test."""
    context = cel.Context(activation)
    add_stdlib_to_context(context, ["strings"])  # Kubernetes enables cel-go's strings extension (`join`)
    return cel.evaluate(expression, context)
