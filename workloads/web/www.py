"""The www frontends, the public ameide site and the platform web app (Next.js with Auth.js);
their secrets are the Auth.js session secret and the Keycloak client secret of each.
"""

from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="www",
    team="web",
    namespace="ameide",
    rollout="production",
    external_secrets=[
        ExternalSecretSpec(
            name="www-ameide",
            data={
                "AUTH_SECRET": "www/ameide/auth-secret",
                "AUTH_KEYCLOAK_SECRET": RemoteRef(key="www/ameide/keycloak-client", property="client-secret"),
            },
        ),
        ExternalSecretSpec(
            name="www-ameide-platform",
            data={
                "AUTH_SECRET": "www/ameide-platform/auth-secret",
                "AUTH_KEYCLOAK_SECRET": RemoteRef(key="www/ameide-platform/keycloak-client", property="client-secret"),
            },
        ),
    ],
)
