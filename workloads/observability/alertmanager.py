"""Alertmanager, which routes Prometheus alerts, with its UI behind oauth2-proxy; its secrets are
the OIDC client credentials and cookie secret of that oauth2-proxy.
"""

from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="alertmanager",
    team="observability",
    namespace="monitoring",
    rollout="staging",
    # Mid-migration: the legacy vault-secrets chart created alertmanager-oauth2-proxy in staging
    # and production; take it over in place (docs/migration.md), drop once the chart no longer has it.
    adopt=True,
    external_secrets=[
        ExternalSecretSpec(
            name="alertmanager-oauth2-proxy",
            data={
                "client-id": RemoteRef(key="alertmanager/oauth2-proxy", property="client-id"),
                "client-secret": RemoteRef(key="alertmanager/oauth2-proxy", property="client-secret"),
                "cookie-secret": RemoteRef(key="alertmanager/oauth2-proxy", property="cookie-secret"),
            },
        ),
    ],
)
