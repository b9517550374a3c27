"""The ameide-secrets policy pack: `pulumi preview --policy-pack policy` from the repository root.

Constructing the PolicyPack starts the analyzer server and blocks, so this file does nothing
else; the policies are in policy/policies.py, the rules in rules/policies.py.
"""

import sys
from pathlib import Path

# The CLI runs this directory with only policy/ on sys.path; the rules live in the repository.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policy.policies import pack_policies

PolicyPack("ameide-secrets-guardrails", pack_policies(), EnforcementLevel.MANDATORY)
