"""The agents runtime, the workers that execute agent runs; its secrets are the Langfuse keys
it traces runs with and the token it uses to call the agents API.
"""

from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="agents-runtime",
    team="ai",
    namespace="ameide",
    rollout="staging",
    external_secrets=[
        ExternalSecretSpec(
            name="agents-runtime-secrets",
            data={
                "LANGFUSE_PUBLIC_KEY": RemoteRef(key="agents-runtime/langfuse", property="public-key"),
                "LANGFUSE_SECRET_KEY": RemoteRef(key="agents-runtime/langfuse", property="secret-key"),
                "AGENTS_API_TOKEN": "agents-runtime/agents-api-token",
            },
        ),
    ],
)
