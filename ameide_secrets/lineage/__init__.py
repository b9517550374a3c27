"""Secret lineage: which container reads which Vault key, what is unused, broken or undeclared (`ameide-secrets lineage`)."""
