"""The graph service, ameide's core model and API over the knowledge graph; its secrets are
its Postgres connection and the API keys it accepts from internal callers.
"""

from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="graph",
    team="core",
    namespace="ameide",
    rollout="production",
    external_secrets=[
        ExternalSecretSpec(
            name="graph-db",
            data={
                "DATABASE_URL": RemoteRef(key="graph/database", property="url"),
            },
        ),
        ExternalSecretSpec(
            name="graph-api-keys",
            # One field per calling service in Vault, e.g. GRAPH_API_KEY_WORKFLOWS.
            data_from=["graph/api-keys"],
        ),
    ],
)
