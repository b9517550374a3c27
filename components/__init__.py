"""ameide-secrets components. Team modules import the declaration models from here."""

from components.spec import Environment, ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

__all__ = ["Environment", "ExternalSecretSpec", "RemoteRef", "WorkloadSecretsArgs"]
