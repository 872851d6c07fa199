"""seqstack's Pulumi policy pack (``policies/``) and its offline runner.

``policies.rules`` defines the policies (importable, no server); ``policies/__main__.py`` is the
pack's entry point for ``pulumi preview --policy-pack policies``; ``policies.offline`` runs the
same policies over a mock-runtime inventory (``seqstack inventory --stack dev-aws --policy``).
"""
