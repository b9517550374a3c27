"""Pure: the declared chain (Vault key -> ExternalSecret -> Secret key) joined with what containers read.

The declarations give one half: each owned ExternalSecret's Secret and its `data` keys, each with its
Vault key and property; a `data_from` copy's keys are the live Secret's key *names* (never its values;
ESO does not record which of several `data_from` keys a field came from, so each is named); an
`existing_secrets` entry's keys are its live Secret's. The cluster gives the other half
(consumers.py). The join (`resolve`) reports:

- `edges`: one per (Vault key, property) -> ExternalSecret -> Secret -> Secret key -> consumer;
- `unused_keys`: keys the stack's ExternalSecrets write that no container reads (an `envFrom`, a whole
  volume or `imagePullSecrets` reads every key);
- `broken_refs`: references to a Secret or key that neither an ExternalSecret of the stack, nor a listed
  existing Secret, nor (for a Secret the stack does not know) the cluster provides; the `optional` ones in
  `optional_broken_refs`, as they do not stop a container;
- `undeclared`: Secrets consumed in an admitted namespace that the stack neither produces nor lists.

When the Secrets cannot be listed (an identity without that right), `live` is None: the `data_from`
and existing Secrets' keys are then unknown, a reference to them is not judged, and `secret_keys_read`
says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ameide_secrets.lineage.consumers import Consumer, Consumption
from ameide_secrets.project import Stack
from ameide_secrets.rules.targets import MERGING

Where = tuple[str, str]
Source = Literal["data", "data_from", "existing"]

_MODEL = ConfigDict(extra="forbid", frozen=True)


class Provider(BaseModel):
    """A Secret the stack accounts for: written by one of its ExternalSecrets, or listed in `existing_secrets`."""

    model_config = _MODEL

    namespace: str
    secret: str
    module: str
    workload: str
    team: str
    external_secret: str | None
    """None: an `existing_secrets` entry, which something else writes."""
    data: dict[str, tuple[str, str | None]] = {}
    """Secret key -> (Vault key, property as rendered; None: the whole Vault secret)."""
    data_from: tuple[str, ...] = ()
    """Vault keys whose every field becomes a Secret key."""
    merges: bool = False
    """`creation_policy` Merge / CreateOrMerge: the Secret holds keys of its own beside the declared ones."""


class Edge(BaseModel):
    model_config = _MODEL

    vault_key: str | None
    """None: an existing Secret, not from Vault."""
    property: str | None
    external_secret: str | None
    namespace: str
    secret: str
    secret_key: str
    source: Source
    module: str
    team: str
    consumer: Consumer
    optional: bool = False
    env: str | None = None
    """The environment variable the key becomes (env, envFrom with its prefix)."""
    path: str | None = None
    """The file the key becomes, relative to the volume's mount."""


class UnusedKey(BaseModel):
    model_config = _MODEL

    vault_key: str | None
    property: str | None
    external_secret: str
    namespace: str
    secret: str
    secret_key: str
    source: Source
    module: str
    team: str


class BrokenRef(BaseModel):
    model_config = _MODEL

    consumer: Consumer
    secret: str
    key: str | None
    """None: the whole Secret."""
    optional: bool
    problem: str


class Undeclared(BaseModel):
    model_config = _MODEL

    namespace: str
    secret: str
    exists: bool | None
    """Whether the cluster holds it (None: Secrets could not be listed)."""
    consumers: list[Consumer]


class Lineage(BaseModel):
    """Names and timestamps only: nothing here ever held a value."""

    model_config = _MODEL

    stack: str
    namespaces: list[str]
    secret_keys_read: bool
    """Whether the Secrets' key names could be listed (data_from and existing Secrets' keys need them)."""
    edges: list[Edge]
    unused_keys: list[UnusedKey]
    broken_refs: list[BrokenRef]
    optional_broken_refs: list[BrokenRef]
    undeclared: list[Undeclared]

    def of_vault_key(self, vault_key: str) -> Lineage:
        """Only what Vault key `vault_key` reaches: its edges and unused keys (the references that are broken or go
        to undeclared Secrets read no Vault key, and are left out). Who restarts when it is rotated."""
        return self.model_copy(
            update={
                "edges": [e for e in self.edges if e.vault_key == vault_key],
                "unused_keys": [u for u in self.unused_keys if u.vault_key == vault_key],
                "broken_refs": [],
                "optional_broken_refs": [],
                "undeclared": [],
            }
        )


def providers(stack: Stack) -> list[Provider]:
    """What the stack's owned workloads say their Secrets hold."""
    found = []
    for declared in stack.owned:
        args = declared.args
        common = {"namespace": args.namespace, "module": declared.module, "workload": args.workload, "team": args.team}
        for spec in args.external_secrets:
            if spec.creation_policy == "None":
                continue  # writes no Secret
            data = {key: (ref.key, spec.property_of(key, stack.settings.string_ref_property)) for key, ref in spec.data.items()}
            found.append(
                Provider(
                    **common,
                    secret=spec.target_name,
                    external_secret=spec.name,
                    data=data,
                    data_from=tuple(ref.key for ref in spec.data_from),
                    merges=spec.creation_policy in MERGING,
                )
            )
        found += [Provider(**common, secret=name, external_secret=None) for name in args.existing_secrets]
    return found


class _Keys:
    """One provided Secret's keys as far as they are known: key -> its Vault origins."""

    def __init__(self, provider: Provider, live: frozenset[str] | None, listed: bool) -> None:
        self.provider = provider
        self.exists = live is not None if listed else None
        origins: dict[str, list[tuple[str | None, str | None, Source]]] = {
            key: [(vault_key, prop, "data")] for key, (vault_key, prop) in provider.data.items()
        }
        copied = (live or frozenset()) - set(provider.data)
        if provider.data_from:
            origins.update({key: [(vault_key, key, "data_from") for vault_key in provider.data_from] for key in copied})
        elif provider.external_secret is None or provider.merges:
            origins.update({key: [(None, None, "existing")] for key in copied})
        self.origins = origins
        # Which keys it holds is known from the declaration alone when it copies no whole Vault secret into
        # a Secret of its own.
        self.complete = listed or (provider.external_secret is not None and not provider.data_from and not provider.merges)

    def origin(self, key: str) -> list[tuple[str | None, str | None, Source]]:
        """Where `key` comes from; for a key not known to be there and not refused (the Secrets unread): its candidates."""
        if key in self.origins:
            return self.origins[key]
        if self.provider.data_from:
            return [(vault_key, key, "data_from") for vault_key in self.provider.data_from]
        return [(None, None, "existing")]

    def problem(self, key: str | None) -> str | None:
        """Why a reference to `key` (None: the whole Secret) is not provided; None when it is, or cannot be judged."""
        p = self.provider
        if p.external_secret is None and self.exists is False:
            return f"existing Secret {p.secret} (listed by {p.module}) does not exist"
        if key is None or key in self.origins or not self.complete:
            return None
        if p.external_secret is None:
            return f"existing Secret {p.secret} (listed by {p.module}) has no key {key!r}"
        if p.data_from and self.exists is False:
            return (
                f"ExternalSecret {p.external_secret} ({p.module}) declares no key {key!r}, and its Secret does not exist "
                "to show what its data_from copies"
            )
        return f"ExternalSecret {p.external_secret} ({p.module}) writes no key {key!r} into Secret {p.secret}"


def resolve(
    stack: str,
    namespaces: Sequence[str],
    declared: Iterable[Provider],
    consumed: Iterable[Consumption],
    live: Mapping[Where, frozenset[str]] | None,
) -> Lineage:
    """Join the declared chain with what the workloads of `namespaces` read; `live`: the Secrets' key names (None: unreadable)."""
    admitted = set(namespaces)
    listed = live is not None
    known = {
        (p.namespace, p.secret): _Keys(p, (live or {}).get((p.namespace, p.secret)), listed)
        for p in declared
        if p.namespace in admitted
    }
    edges: list[Edge] = []
    broken: list[BrokenRef] = []
    undeclared: dict[Where, list[Consumer]] = {}
    read: dict[Where, set[str | None]] = {}
    for c in consumed:
        where = (c.consumer.namespace, c.secret)
        if c.consumer.namespace not in admitted:
            continue
        read.setdefault(where, set()).add(c.key)
        keys = known.get(where)
        if keys is None:
            undeclared.setdefault(where, []).append(c.consumer)
            if listed and (problem := _undeclared_problem(c, (live or {}).get(where))):
                broken.append(BrokenRef(consumer=c.consumer, secret=c.secret, key=c.key, optional=c.optional, problem=problem))
            continue
        if problem := keys.problem(c.key):
            broken.append(BrokenRef(consumer=c.consumer, secret=c.secret, key=c.key, optional=c.optional, problem=problem))
            continue
        p = keys.provider
        for key in [c.key] if c.key is not None else sorted(keys.origins):
            for vault_key, prop, source in keys.origin(key):
                edges.append(
                    Edge(
                        vault_key=vault_key,
                        property=prop,
                        external_secret=p.external_secret,
                        namespace=p.namespace,
                        secret=p.secret,
                        secret_key=key,
                        source=source,
                        module=p.module,
                        team=p.team,
                        consumer=c.consumer,
                        optional=c.optional,
                        env=c.env if c.consumer.via == "env" else (f"{c.env}{key}" if c.consumer.via == "envFrom" else None),
                        path=c.path if c.key is not None else (key if c.consumer.via in ("volume", "projected") else None),
                    )
                )
    unused = [
        UnusedKey(
            vault_key=vault_key,
            property=prop,
            external_secret=keys.provider.external_secret,
            namespace=where[0],
            secret=where[1],
            secret_key=key,
            source=source,
            module=keys.provider.module,
            team=keys.provider.team,
        )
        for where, keys in known.items()
        if keys.provider.external_secret is not None and None not in read.get(where, set())
        for key, origins in keys.origins.items()
        if key not in read.get(where, set())
        for vault_key, prop, source in origins
    ]
    return Lineage(
        stack=stack,
        namespaces=sorted(admitted),
        secret_keys_read=listed,
        edges=sorted(edges, key=_edge_order),
        unused_keys=sorted(unused, key=lambda u: (u.namespace, u.secret, u.secret_key, u.vault_key or "")),
        broken_refs=sorted((b for b in broken if not b.optional), key=_broken_order),
        optional_broken_refs=sorted((b for b in broken if b.optional), key=_broken_order),
        undeclared=[
            Undeclared(
                namespace=ns,
                secret=name,
                exists=((ns, name) in (live or {})) if listed else None,
                consumers=sorted(set(consumers), key=_consumer_order),
            )
            for (ns, name), consumers in sorted(undeclared.items())
        ],
    )


def _undeclared_problem(c: Consumption, keys: frozenset[str] | None) -> str | None:
    if keys is None:
        return f"Secret {c.secret} does not exist, and no ExternalSecret of the stack writes it nor does a module list it"
    if c.key is not None and c.key not in keys:
        return f"Secret {c.secret} (not declared by the stack) has no key {c.key!r}"
    return None


def _consumer_order(c: Consumer) -> tuple[str, ...]:
    return (c.namespace, c.kind, c.name, c.container or "", c.via, c.field)


def _edge_order(e: Edge) -> tuple[str, ...]:
    return (e.namespace, e.secret, e.secret_key, e.vault_key or "", e.property or "", *_consumer_order(e.consumer))


def _broken_order(b: BrokenRef) -> tuple[str, ...]:
    return (*_consumer_order(b.consumer), b.secret, b.key or "")
