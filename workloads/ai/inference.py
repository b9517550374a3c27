"""The inference gateway, which forwards model calls to the hosted LLM providers; its secrets
are the providers' API keys.
"""

from components import ExternalSecretSpec, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="inference",
    team="ai",
    namespace="ameide",
    rollout="production",
    external_secrets=[
        ExternalSecretSpec(
            name="inference-provider-keys",
            data={
                "OPENAI_API_KEY": "inference/openai-api-key",
                "ANTHROPIC_API_KEY": "inference/anthropic-api-key",
            },
        ),
    ],
)
