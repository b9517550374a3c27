"""Before `pulumi up`: would admitting the stack's namespaces let an unjudged ExternalSecret read Vault?

The admission policy judges writes, not what already exists. An ExternalSecret that names the platform
store in a namespace before the policy admits it (created before the policies existed, or while their
binding was away) would be synced by ESO the moment `pulumi up` admits that namespace, without any
admission having judged it. `refusals` finds every such object in a namespace the stack admits, not
declared by it (those `pulumi up` rewrites), whose keys the admission policy would refuse — by the same
rules the policy's CEL is generated from (`rules/stores.py`, `rules/tenancy.py`) and the same prefixes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ameide_secrets import vocabulary
from ameide_secrets.findings import Finding
from ameide_secrets.project import Stack
from ameide_secrets.render import admission
from ameide_secrets.rules import stores, tenancy


def refusals(stack: Stack, live: Iterable[Mapping[str, Any]]) -> Iterator[Finding]:
    allowed = admission.declared_prefixes(stack.namespaces, stack.grants)
    declared = {(d.args.namespace, spec.name) for d in stack.owned for spec in d.args.external_secrets}
    for es in live:
        namespace, name = es["metadata"]["namespace"], es["metadata"]["name"]
        spec = es.get("spec") or {}
        if (
            namespace not in allowed
            or (namespace, name) in declared
            or not stores.names_platform(spec, stack.settings.store_name)
        ):
            continue
        for field, key in vocabulary.vault_keys(spec):
            if key is None:
                problem: str | None = "find searches Vault beyond the declared keys"
            else:
                problem = tenancy.namespace_key_problem(key, allowed[namespace], namespace, stack.settings.vault_kv_mount)
            if problem is not None:
                yield Finding(
                    f"{problem} (delete or fix it before {namespace} is admitted)",
                    object=f"ExternalSecret {namespace}/{name}",
                    field=field,
                )
