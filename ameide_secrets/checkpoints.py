"""When the Pulumi CLI may skip its checkpoints: in a preview, and never otherwise — the one rule.

The CLI re-serialises the whole snapshot after every step, which grows with the square of the stack
(docs/performance.md). A preview persists nothing: the pinned CLI (v3.274.1) gives a preview a
`DiscardPersister` on the DIY backends (pkg/backend/diy/backend.go) and on Pulumi Cloud
(pkg/backend/httpstate/backend.go), so `PULUMI_SKIP_CHECKPOINTS=true` only skips work that is thrown
away. In an `up`, `refresh` or `destroy` the checkpoints are what keeps track of the objects created so
far: skipping them loses those on a crash. The PR workflow, the docs, the bench and the e2e suite all
take their environment from here (workflows are checked against it by tests/repository). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping

VARIABLE = "PULUMI_SKIP_CHECKPOINTS"
SKIPPED_FOR = frozenset({"preview"})
"""The commands whose checkpoints are thrown away anyway."""


def environment(command: str, env: Mapping[str, str]) -> dict[str, str]:
    """`env` for `pulumi <command>`: checkpoints skipped for a preview, and an inherited skip removed for
    every other command, so no `up` ever runs without them."""
    kept = {key: value for key, value in env.items() if key != VARIABLE}
    return {**kept, VARIABLE: "true"} if command in SKIPPED_FOR else kept
