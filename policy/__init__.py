"""The pulumi-policy pack: `components/policies.py` rules as mandatory policies."""
