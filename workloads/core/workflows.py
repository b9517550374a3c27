"""The workflows service, which runs ameide's long-running processes on Temporal; its secrets
are its Postgres credentials and the mTLS client certificate it presents to the Temporal frontend.
"""

from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="workflows",
    team="core",
    namespace="ameide",
    rollout="production",
    external_secrets=[
        ExternalSecretSpec(
            name="workflows-db",
            data={
                "DATABASE_USER": RemoteRef(key="workflows/database", property="username"),
                "DATABASE_PASSWORD": RemoteRef(key="workflows/database", property="password"),
            },
        ),
        ExternalSecretSpec(
            name="workflows-temporal",
            type="kubernetes.io/tls",
            data={
                "tls.crt": RemoteRef(key="workflows/temporal-client", property="certificate"),
                "tls.key": RemoteRef(key="workflows/temporal-client", property="private-key"),
                "ca.crt": RemoteRef(key="workflows/temporal-client", property="ca"),
            },
        ),
    ],
)
