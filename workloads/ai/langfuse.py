"""Langfuse, the LLM tracing and evaluation server; its secrets are the session and encryption
keys, its Postgres URL, its S3 (MinIO) credentials and its ClickHouse password.
"""

from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="langfuse",
    team="ai",
    namespace="ameide",
    rollout="production",
    external_secrets=[
        ExternalSecretSpec(
            name="langfuse-secrets",
            data={
                "NEXTAUTH_SECRET": "langfuse/nextauth-secret",
                "SALT": "langfuse/salt",
                "ENCRYPTION_KEY": "langfuse/encryption-key",
                "DATABASE_URL": RemoteRef(key="langfuse/database", property="url"),
            },
        ),
        ExternalSecretSpec(
            name="langfuse-s3",
            data={
                "LANGFUSE_S3_EVENT_UPLOAD_ACCESS_KEY_ID": RemoteRef(key="langfuse/s3", property="access-key-id"),
                "LANGFUSE_S3_EVENT_UPLOAD_SECRET_ACCESS_KEY": RemoteRef(key="langfuse/s3", property="secret-access-key"),
            },
        ),
        ExternalSecretSpec(
            name="langfuse-clickhouse",
            data={
                "CLICKHOUSE_PASSWORD": RemoteRef(key="langfuse/clickhouse", property="password"),
            },
        ),
    ],
)
