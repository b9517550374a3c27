"""The ameide-secrets CrossGuard pack: `pulumi preview --policy-pack policy` from the repository root.

Its policies are `ameide_secrets/crossguard.py` (the guardrails of `rules/guardrails.py`), for the
project this folder sits in; the pack's virtualenv (policy/venv) has the package installed.
"""

from pathlib import Path

from ameide_secrets.crossguard import pack

pack(Path(__file__).resolve().parent.parent)
