"""The one-time Langfuse bootstrap job that creates the initial organization, project and admin
user; its secrets are the LANGFUSE_INIT_* values it seeds them with (local only).
"""

from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="langfuse-bootstrap",
    team="ai",
    namespace="ameide",
    rollout="local",
    external_secrets=[
        ExternalSecretSpec(
            name="langfuse-bootstrap-init",
            data={
                "LANGFUSE_INIT_ORG_ID": RemoteRef(key="langfuse-bootstrap/init", property="org-id"),
                "LANGFUSE_INIT_PROJECT_ID": RemoteRef(key="langfuse-bootstrap/init", property="project-id"),
                "LANGFUSE_INIT_PROJECT_PUBLIC_KEY": RemoteRef(key="langfuse-bootstrap/init", property="project-public-key"),
                "LANGFUSE_INIT_PROJECT_SECRET_KEY": RemoteRef(key="langfuse-bootstrap/init", property="project-secret-key"),
                "LANGFUSE_INIT_USER_EMAIL": RemoteRef(key="langfuse-bootstrap/init", property="user-email"),
                "LANGFUSE_INIT_USER_PASSWORD": RemoteRef(key="langfuse-bootstrap/init", property="user-password"),
            },
        ),
    ],
)
