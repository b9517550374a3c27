"""Which Secrets an ExternalSecret may write into — the one rule, for every layer.

ESO writes the target Secret whatever already holds that name: `Owner` and `Orphan` take over an
existing Secret (and `Owner` + `Delete` deletes it with the ExternalSecret), `Merge` and
`CreateOrMerge` write keys into a Secret someone else created. So:

- a target is never named like a Secret the cluster's machinery owns: Helm's release records
  (`sh.helm.release.v1.<release>.v<n>`, rewriting one corrupts the release) and service-account
  tokens (`<account>-token-<5 chars>`, the API server's);
- a merging policy writes only into a Secret the registry grants the team (`merge_into`).

The declaration check (`declare/contract.py`, `declare/inventory.py`), the guardrails and the
admission CEL (`render/admission.py`, generated here) all ask this module.
"""

from __future__ import annotations

import re

MERGING = frozenset({"Merge", "CreateOrMerge"})
"""Creation policies that write into a Secret that already exists, created by someone else."""
WRITES_NOTHING = "None"

# Helm 3's storage driver names its release Secrets so; the token controller appends 5 characters
# of its own alphabet (k8s.io/apimachinery utilrand) to `<account>-token-`.
_RESERVED = r"^sh[.]helm[.]release[.]v1[.]|-token-[bcdfghjklmnpqrstvwxz2456789]{5}$"
_RESERVED_PATTERN = re.compile(_RESERVED)


def reserved_name_problem(name: str, creation_policy: str) -> str | None:
    """Why an ExternalSecret with `creation_policy` may not write Secret `name`, or None."""
    if creation_policy == WRITES_NOTHING or not _RESERVED_PATTERN.search(name):
        return None
    return (
        f"target Secret {name!r} is named like a Helm release record or a service-account token: ESO would "
        "overwrite (with deletion policy Delete, delete) a Secret the cluster's machinery owns (choose another target name)"
    )


def cel_reserved_name() -> str:
    """The RE2 pattern (`matches()` in CEL) of the names `reserved_name_problem` refuses."""
    return _RESERVED
