"""Before `pulumi up`: would admitting the stack's namespaces let an unjudged ExternalSecret read Vault?

    python -m tools.precheck --stack staging [--context ameide-staging] [--format text|json]

The admission policy judges writes, not what already exists. An ExternalSecret that names the
platform store in a namespace before the policy admits it (created before the policies existed, or
while their binding was away) would be synced by ESO the moment `pulumi up` admits that namespace,
without any admission having judged it. This lists every such object in a namespace the stack's
modules admit, not declared by them (those `pulumi up` rewrites), whose keys the admission policy
would refuse — the same prefixes (`admission.declared_prefixes`) and path rule (`tenancy`). Exit 1
naming each object and key: delete or fix it, then deploy. Exit 2 when the cluster cannot be asked.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from declarations import inventory
from declarations.settings import StackSettings
from rendering import admission
from rendering.manifests import STORE_KIND
from rules import tenancy
from rules.policies import vault_keys
from tools import kube


@dataclass(frozen=True)
class Refusal:
    external_secret: str
    """`namespace/name`."""
    field: str
    problem: str

    def __str__(self) -> str:
        return f"ExternalSecret {self.external_secret}: {self.field}: {self.problem}"


def _names_platform_store(spec: dict[str, Any], store: str) -> bool:
    refs = [spec.get("secretStoreRef") or {}]
    refs += [
        (entry.get("sourceRef") or {}).get("storeRef") or {} for entry in (spec.get("data") or []) + (spec.get("dataFrom") or [])
    ]
    # ESO reads an unset kind as SecretStore.
    return any(ref.get("kind", "SecretStore") == STORE_KIND and ref.get("name") == store for ref in refs)


def refusals(settings: StackSettings, owned: list[inventory.DeclaredWorkload], live: list[dict[str, Any]]) -> Iterator[Refusal]:
    allowed = admission.declared_prefixes(inventory.namespaces(owned), inventory.grants(owned))
    declared = {(d.args.namespace, spec.name) for d in owned for spec in d.args.external_secrets}
    for es in live:
        namespace, name = es["metadata"]["namespace"], es["metadata"]["name"]
        spec = es.get("spec") or {}
        if namespace not in allowed or (namespace, name) in declared or not _names_platform_store(spec, settings.store_name):
            continue
        prefixes = tuple(allowed[namespace])
        for field, key in vault_keys(spec):
            if key is None:
                problem = "find searches Vault beyond the declared keys"
            elif bad := tenancy.vault_path_problem(key, [settings.vault_kv_mount]):
                problem = bad
            elif not key.startswith(prefixes):
                problem = f"{key!r} is outside the key prefixes of namespace {namespace}: {', '.join(sorted(prefixes)) or 'none'}"
            else:
                continue
            yield Refusal(f"{namespace}/{name}", field, f"{problem} (delete or fix it before {namespace} is admitted)")


def main(argv: list[str] | None = None) -> int:
    options = kube.parser("python -m tools.precheck", __doc__ or "").parse_args(argv)
    try:
        settings, kubectl = kube.connect(options.stack, options.context)
        owned = inventory.owned(inventory.discover(), settings.environment)
        live = list(kubectl.list("externalsecrets.external-secrets.io").values())
    except kube.USAGE_ERRORS as error:
        return kube.fail(error)
    return kube.report(list(refusals(settings, owned, live)), options.format)


if __name__ == "__main__":
    sys.exit(main())
