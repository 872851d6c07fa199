"""Which config keys outside ``seqstack:`` a stack may set: a misspelt one is an error.

Pulumi passes every key of the stack file to the program, and a provider ignores keys it does
not know: ``aws:regoin`` or ``seqstak:clusterName`` would silently leave the value at its
default. The keys a provider reads are those its Python SDK reads (``<sdk>/config/vars.py``,
generated from the provider's schema), so the list follows the installed provider version.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

#: Namespaces a stack may use besides ``seqstack``: the two providers seqstack configures from
#: stack config, and Pulumi's own (``pulumi:tags``, ``pulumi:disable-default-providers``).
PROVIDER_SDKS: dict[str, str] = {"aws": "pulumi_aws", "gcp": "pulumi_gcp"}
OPEN_NAMESPACES = frozenset({"pulumi"})

_GET = re.compile(r"__config__\.get\w*\('(\w+)'")


@functools.cache
def provider_keys(namespace: str) -> frozenset[str]:
    """The config keys the installed provider SDK reads in ``namespace`` (``region``, ...)."""
    spec = importlib.util.find_spec(f"{PROVIDER_SDKS[namespace]}.config.vars")
    if spec is None or spec.origin is None:
        raise RuntimeError(f"the {PROVIDER_SDKS[namespace]} SDK has no config/vars.py")
    return frozenset(_GET.findall(Path(spec.origin).read_text()))


def unknown_key_error(full_key: str, own_namespace: str) -> str | None:
    """Why ``full_key`` is not a key any part of the stack reads, or None if it is one."""
    ns, sep, name = full_key.partition(":")
    if not sep or ns == own_namespace or ns in OPEN_NAMESPACES:
        return None
    known = [own_namespace, *PROVIDER_SDKS, *sorted(OPEN_NAMESPACES)]
    if ns not in PROVIDER_SDKS:
        readable = ", ".join(f"{k}:" for k in known)
        return f"{full_key}: unknown config namespace {ns!r} (a stack reads {readable} keys)"
    if name not in provider_keys(ns):
        close = sorted(k for k in provider_keys(ns) if k.lower()[:3] == name.lower()[:3])[:5]
        hint = f" (did you mean {', '.join(f'{ns}:{k}' for k in close)}?)" if close else ""
        return f"{full_key}: not a config key of the {ns} provider{hint}"
    return None
