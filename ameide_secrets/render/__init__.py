"""Declarations and settings rendered as plain data: ESO and Kubernetes manifests (`manifests`), the
admission policy's CEL (`admission`), the preview identity (`preview_access`), Vault's policies and
roles (`vault_config`) and the whole stack's objects (`plan`). Pure: no `pulumi` import."""
