"""The Pulumi components, and the team contract every team module imports from here.

Importing this package does not import the Pulumi SDK: the components are in modules of their own,
so the offline YAML view and the data-only team-module reader never load it."""

from ameide_secrets.declare.contract import Environment, ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

__all__ = ["Environment", "ExternalSecretSpec", "RemoteRef", "WorkloadSecretsArgs"]
