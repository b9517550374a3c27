"""The agents service, which defines and orchestrates ameide's AI agents; its secrets are the
Langfuse project keys it traces with and its Postgres connection.
"""

from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="agents",
    team="ai",
    namespace="ameide",
    rollout="production",
    external_secrets=[
        ExternalSecretSpec(
            name="agents-secrets",
            data={
                "LANGFUSE_PUBLIC_KEY": RemoteRef(key="agents/langfuse", property="public-key"),
                "LANGFUSE_SECRET_KEY": RemoteRef(key="agents/langfuse", property="secret-key"),
            },
        ),
        ExternalSecretSpec(
            name="agents-db",
            data={
                "DATABASE_URL": RemoteRef(key="agents/database", property="url"),
            },
        ),
    ],
)
