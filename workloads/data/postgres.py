"""The CloudNativePG clusters that hold the services' databases; CNPG creates their app and
superuser Secrets itself, so the ExternalSecrets here only supply the passwords of the managed
roles CNPG reconciles (`spec.managed.roles[].passwordSecret`).
"""

from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="postgres",
    team="data",
    namespace="ameide",
    rollout="production",
    # CNPG re-reads a managed-role password Secret only when it carries the label cnpg.io/reload.
    external_secrets=[
        ExternalSecretSpec(
            name="postgres-role-graph",
            type="kubernetes.io/basic-auth",
            labels={"cnpg.io/reload": "true"},
            data={
                "username": RemoteRef(key="postgres/roles/graph", property="username"),
                "password": RemoteRef(key="postgres/roles/graph", property="password"),
            },
        ),
        ExternalSecretSpec(
            name="postgres-role-threads",
            type="kubernetes.io/basic-auth",
            labels={"cnpg.io/reload": "true"},
            data={
                "username": RemoteRef(key="postgres/roles/threads", property="username"),
                "password": RemoteRef(key="postgres/roles/threads", property="password"),
            },
        ),
        ExternalSecretSpec(
            name="postgres-role-workflows",
            type="kubernetes.io/basic-auth",
            labels={"cnpg.io/reload": "true"},
            data={
                "username": RemoteRef(key="postgres/roles/workflows", property="username"),
                "password": RemoteRef(key="postgres/roles/workflows", property="password"),
            },
        ),
        ExternalSecretSpec(
            name="postgres-role-transformation",
            type="kubernetes.io/basic-auth",
            labels={"cnpg.io/reload": "true"},
            data={
                "username": RemoteRef(key="postgres/roles/transformation", property="username"),
                "password": RemoteRef(key="postgres/roles/transformation", property="password"),
            },
        ),
        ExternalSecretSpec(
            name="postgres-role-agents",
            type="kubernetes.io/basic-auth",
            labels={"cnpg.io/reload": "true"},
            data={
                "username": RemoteRef(key="postgres/roles/agents", property="username"),
                "password": RemoteRef(key="postgres/roles/agents", property="password"),
            },
        ),
    ],
    existing_secrets=["postgres-ameide-auth", "postgres-ameide-superuser"],
)
