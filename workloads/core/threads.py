"""The threads service, which stores conversations and their messages; its secret is the
connection URL of its Postgres database.
"""

from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="threads",
    team="core",
    namespace="ameide",
    rollout="production",
    external_secrets=[
        ExternalSecretSpec(
            name="threads-db",
            data={
                "DATABASE_URL": RemoteRef(key="threads/database", property="url"),
            },
        ),
    ],
)
