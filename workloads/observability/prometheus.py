"""Prometheus, the cluster metrics server, whose UI sits behind oauth2-proxy; its secrets are the
OIDC client credentials and cookie secret of that oauth2-proxy.
"""

from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="prometheus",
    team="observability",
    namespace="monitoring",
    rollout="production",
    external_secrets=[
        ExternalSecretSpec(
            name="prometheus-oauth2-proxy",
            data={
                "client-id": RemoteRef(key="prometheus/oauth2-proxy", property="client-id"),
                "client-secret": RemoteRef(key="prometheus/oauth2-proxy", property="client-secret"),
                "cookie-secret": RemoteRef(key="prometheus/oauth2-proxy", property="cookie-secret"),
            },
        ),
    ],
)
