"""Flyway, the job that runs the services' schema migrations against Postgres; each service
database it migrates gets its own Secret with the JDBC URL, user and password.
"""

from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="flyway",
    team="data",
    namespace="ameide",
    rollout="staging",
    external_secrets=[
        ExternalSecretSpec(
            name="flyway-graph-db",
            data={
                "FLYWAY_URL": RemoteRef(key="flyway/graph", property="url"),
                "FLYWAY_USER": RemoteRef(key="flyway/graph", property="username"),
                "FLYWAY_PASSWORD": RemoteRef(key="flyway/graph", property="password"),
            },
        ),
        ExternalSecretSpec(
            name="flyway-threads-db",
            data={
                "FLYWAY_URL": RemoteRef(key="flyway/threads", property="url"),
                "FLYWAY_USER": RemoteRef(key="flyway/threads", property="username"),
                "FLYWAY_PASSWORD": RemoteRef(key="flyway/threads", property="password"),
            },
        ),
        ExternalSecretSpec(
            name="flyway-workflows-db",
            data={
                "FLYWAY_URL": RemoteRef(key="flyway/workflows", property="url"),
                "FLYWAY_USER": RemoteRef(key="flyway/workflows", property="username"),
                "FLYWAY_PASSWORD": RemoteRef(key="flyway/workflows", property="password"),
            },
        ),
        ExternalSecretSpec(
            name="flyway-transformation-db",
            data={
                "FLYWAY_URL": RemoteRef(key="flyway/transformation", property="url"),
                "FLYWAY_USER": RemoteRef(key="flyway/transformation", property="username"),
                "FLYWAY_PASSWORD": RemoteRef(key="flyway/transformation", property="password"),
            },
        ),
        ExternalSecretSpec(
            name="flyway-agents-db",
            data={
                "FLYWAY_URL": RemoteRef(key="flyway/agents", property="url"),
                "FLYWAY_USER": RemoteRef(key="flyway/agents", property="username"),
                "FLYWAY_PASSWORD": RemoteRef(key="flyway/agents", property="password"),
            },
        ),
    ],
    existing_secrets=["postgres-ameide-auth"],
)
