"""The platform-smoke checks, a job that signs in and exercises the platform after each rollout;
its secrets are the OIDC client and test-user credentials it signs in with, plus its run
configuration, kept in Vault as one secret.
"""

from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="platform",
    team="platform",
    namespace="ameide",
    rollout="production",
    external_secrets=[
        ExternalSecretSpec(
            name="platform-smoke",
            data={
                "SMOKE_CLIENT_ID": RemoteRef(key="platform/smoke-client", property="client-id"),
                "SMOKE_CLIENT_SECRET": RemoteRef(key="platform/smoke-client", property="client-secret"),
                "SMOKE_USER_PASSWORD": "platform/smoke-user-password",
            },
        ),
        ExternalSecretSpec(
            name="platform-smoke-config",
            # Every field of the Vault secret becomes a key of the Secret.
            data_from=["platform/smoke-config"],
        ),
    ],
)
