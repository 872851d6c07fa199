"""Entry point of the policy pack: ``pulumi preview --policy-pack policies`` runs this file.

It starts pulumi-policy's gRPC analyzer server and blocks, so nothing imports it; the policies
live in ``rules.py``. The engine runs the pack with ``policies/`` as the script directory and its
own virtualenv (``policies/requirements.txt``), where the seqstack package is not installed:
hence the plain ``import rules`` fallback.
"""

from pulumi_policy import PolicyPack

try:
    from policies.rules import PACK_NAME, POLICIES  # `python -m policies` from the repository root
except ImportError:
    from rules import PACK_NAME, POLICIES  # type: ignore[no-redef]  # run by the Pulumi engine

PolicyPack(name=PACK_NAME, policies=list(POLICIES))
