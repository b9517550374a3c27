"""The rules, each in one module every enforcing layer calls: tenancy (namespaces, Vault paths, key
prefixes, the access registry), ESO's own admission rules (`eso`), the guardrail policies over
rendered manifests (`policies`) and the promotion gate (`gate`). Pure: no `pulumi` import."""
