"""Keycloak, the identity provider behind every ameide login; its secrets are the admin and
master-realm bootstrap credentials and the user and password of its Postgres database.
"""

from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="keycloak",
    team="identity",
    namespace="ameide",
    rollout="production",
    external_secrets=[
        ExternalSecretSpec(
            name="keycloak-admin-credentials",
            type="kubernetes.io/basic-auth",
            data={
                "username": RemoteRef(key="keycloak/admin", property="username"),
                "password": RemoteRef(key="keycloak/admin", property="password"),
            },
        ),
        ExternalSecretSpec(
            name="keycloak-master-credentials",
            data={
                "KC_BOOTSTRAP_ADMIN_USERNAME": RemoteRef(key="keycloak/master", property="username"),
                "KC_BOOTSTRAP_ADMIN_PASSWORD": RemoteRef(key="keycloak/master", property="password"),
            },
        ),
        ExternalSecretSpec(
            name="keycloak-db",
            data={
                "KC_DB_USERNAME": RemoteRef(key="keycloak/database", property="username"),
                "KC_DB_PASSWORD": RemoteRef(key="keycloak/database", property="password"),
            },
        ),
    ],
    existing_secrets=["postgres-ameide-auth"],
)
