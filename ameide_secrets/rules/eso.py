"""ESO's own admission rules for an ExternalSecret: checked where a team declares it (`declare/contract.py`)
and on every rendered manifest (`policies.py`), so a PR fails before ESO's webhook refuses it.

Field names differ by layer (`creation_policy` in a team module, `creationPolicy` in a manifest);
each layer prefixes the problem with its own field path.
"""

from __future__ import annotations


def deletion_policy_problem(creation: str, deletion: str) -> str | None:
    """Why ESO refuses this pair of target policies, or None."""
    if deletion == "Delete" and creation != "Owner":
        return f'deletion policy "Delete" needs creation policy "Owner", got {creation!r} (use deletion policy "Retain")'
    if deletion == "Merge" and creation == "None":
        return 'deletion policy "Merge" cannot be used with creation policy "None": there is no Secret to merge (use "Retain")'
    return None


def data_problem(has_data: bool, has_data_from: bool) -> str | None:
    """Why ESO refuses an ExternalSecret with nothing to fetch, or None."""
    if not has_data and not has_data_from:
        return "reads no keys: ESO rejects an ExternalSecret without data or dataFrom (add at least one entry)"
    return None
