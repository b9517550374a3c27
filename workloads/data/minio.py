"""MinIO, the S3-compatible object store in the ameide namespace; its only secret is the root
user and password the MinIO server starts with.
"""

from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="minio",
    team="data",
    namespace="ameide",
    rollout="production",
    external_secrets=[
        ExternalSecretSpec(
            name="minio-root-credentials",
            data={
                "MINIO_ROOT_USER": RemoteRef(key="minio/root", property="user"),
                "MINIO_ROOT_PASSWORD": RemoteRef(key="minio/root", property="password"),
            },
        ),
    ],
)
