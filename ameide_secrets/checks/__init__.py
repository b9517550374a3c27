"""The checks around a deploy, each over one Stack and returning findings: `precheck` (before `pulumi up`:
no unjudged reader in a namespace about to be admitted), `vault_keys` (every key and property a stack
reads exists in Vault) and `smoke` (after `pulumi up`: every ExternalSecret synced from its current spec)."""
