"""The product's two clients: Vault (`hvac`) and Kubernetes (`lightkube`). Each reads names, never prints a value."""
