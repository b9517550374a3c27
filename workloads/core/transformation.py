"""The transformation service, which converts and enriches imported models; its secret is the
user and password of its Postgres database.
"""

from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="transformation",
    team="core",
    namespace="ameide",
    rollout="staging",
    external_secrets=[
        ExternalSecretSpec(
            name="transformation-db",
            data={
                "DATABASE_USER": RemoteRef(key="transformation/database", property="username"),
                "DATABASE_PASSWORD": RemoteRef(key="transformation/database", property="password"),
            },
        ),
    ],
)
