"""The pulumi-policy pack: `rules/policies.py` rules as mandatory policies."""
