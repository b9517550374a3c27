"""Plausible, the privacy-friendly web analytics server; its secrets are the Phoenix secret key
base, the TOTP vault key, and its Postgres and ClickHouse connection URLs.
"""

from components import ExternalSecretSpec, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="plausible",
    team="analytics",
    namespace="ameide",
    rollout="production",
    external_secrets=[
        ExternalSecretSpec(
            name="plausible-secrets",
            data={
                "SECRET_KEY_BASE": "plausible/secret-key-base",
                # Stored base64-encoded in Vault; Plausible wants the raw 32 bytes.
                "TOTP_VAULT_KEY": {"key": "plausible/totp", "property": "key", "decodingStrategy": "Base64"},
                "DATABASE_URL": {"key": "plausible/database", "property": "url"},
                "CLICKHOUSE_DATABASE_URL": {"key": "plausible/clickhouse", "property": "url"},
            },
        ),
    ],
    existing_secrets=["postgres-ameide-auth"],
)
