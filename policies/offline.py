"""Run the policy pack offline over what the program declares under Pulumi's mock runtime.

``pulumi preview --policy-pack policies`` needs the Pulumi engine and cloud credentials. This
module runs the SAME policy objects (``policies.rules.POLICIES``) without either: each recorded
resource becomes the ``ResourceValidationArgs`` (and, for stack policies, the
``StackValidationArgs``) the engine would build from it, with the same camelCase inputs, and
each policy's own ``validate(args, report_violation)`` decides.

Differences from the engine, on purpose and stated: the inputs are those of a mock run (no
value is unknown, so nothing is skipped as "unknown during preview"); property dependencies are
not recorded, so stack policies pair a bucket with its settings through the resources' plain
dependencies (which the mock run records by logical name); and the options carry
``retain_on_delete``, which the engine does not send to policy packs, so ``buckets-protected``
checks it only here.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from policies.rules import POLICIES
from stacks.harness import Inventory, Recorded


class OfflineResourceOptions(PolicyResourceOptions):
    """The engine's resource options plus ``retain_on_delete``, which only the mock run records."""

    retain_on_delete: bool

    def __init__(self, protect: bool, retain_on_delete: bool, parent: str | None) -> None:
        super().__init__(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)
        self.retain_on_delete = retain_on_delete


@dataclass(frozen=True)
class Violation:
    """One reported policy violation."""

    policy: str
    """Policy name, e.g. ``buckets-private``."""
    enforcement: str
    """``mandatory`` or ``advisory``."""
    resource_type: str
    """Type token of the resource at fault ('' for a stack-wide finding)."""
    resource_name: str
    """Logical name of the resource at fault ('' for a stack-wide finding)."""
    message: str
    """What is wrong and what to do."""

    @property
    def mandatory(self) -> bool:
        return self.enforcement == EnforcementLevel.MANDATORY.value


def _urn_map(resources: Sequence[Recorded]) -> dict[tuple[str, str], str]:
    return {(r.name, r.type): r.urn for r in resources}


def _options(r: Recorded, urns: Mapping[tuple[str, str], str]) -> OfflineResourceOptions:
    parent = urns.get((r.parent, r.parent_type)) if r.parent and r.parent_type else None
    return OfflineResourceOptions(protect=r.protect, retain_on_delete=r.retain_on_delete, parent=parent)


def _props(r: Recorded) -> Any:
    # The engine hands policies read-only proxies, not dicts; use the same so a rule that only
    # works on dicts fails here too.
    return unknown_checking_proxy(json.loads(json.dumps(r.inputs, default=str)))


def _finish(result: Any) -> None:
    if inspect.isawaitable(result):

        async def wait() -> None:
            await result

        asyncio.run(wait())


def _reporter(
    policy: ResourceValidationPolicy | StackValidationPolicy,
    resource: Recorded | None,
    by_urn: Mapping[str, Recorded],
    out: list[Violation],
) -> ReportViolation:
    """A ``report_violation`` callback that records into ``out``.

    A resource policy's violations belong to the resource being validated (the engine ignores
    the urn argument there too); a stack policy names the resource by urn.
    """
    level = (policy.enforcement_level or EnforcementLevel.ADVISORY).value

    def report(message: str, urn: str | None = None) -> None:
        at = resource or (by_urn.get(urn) if urn else None)
        out.append(Violation(policy.name, level, at.type if at else "", at.name if at else "", message))

    return report


def check_resources(
    resources: Sequence[Recorded],
    policies: Iterable[ResourceValidationPolicy | StackValidationPolicy] = POLICIES,
) -> list[Violation]:
    """Every violation the policies report for these resources (custom and component alike)."""
    urns = _urn_map(resources)
    by_urn = {r.urn: r for r in resources}
    violations: list[Violation] = []
    for policy in policies:
        if policy.enforcement_level == EnforcementLevel.DISABLED:
            continue
        if isinstance(policy, ResourceValidationPolicy):
            for r in resources:
                args = ResourceValidationArgs(r.type, _props(r), r.urn, r.name, _options(r, urns), None)
                _finish(policy.validate(args, _reporter(policy, r, by_urn, violations)))
            continue
        stack = {
            r.urn: PolicyResource(r.type, _props(r), r.urn, r.name, _options(r, urns), None, None, [], {})
            for r in resources
        }
        by_name: dict[str, list[PolicyResource]] = {}
        for p in stack.values():
            by_name.setdefault(p.name, []).append(p)
        for r in resources:
            p = stack[r.urn]
            p.parent = stack.get(p.opts.parent) if p.opts.parent else None
            p.dependencies = [d for name in r.dependencies for d in by_name.get(name, [])]
        args_stack = StackValidationArgs(list(stack.values()))
        _finish(policy.validate(args_stack, _reporter(policy, None, by_urn, violations)))
    return violations


def check_inventory(inventory: Inventory) -> list[Violation]:
    """Every violation the policy pack reports for one mock run of a stack."""
    return check_resources(inventory.resources)


def load_resources(path: Path) -> list[Recorded]:
    """Resources from a JSON file: a list of ``{type, name, inputs, parent?, parent_type?, protect?,
    retain_on_delete?, dependencies?}`` (``seqstack inventory --format json`` plus options).

    Used for deliberately insecure fixtures; URNs are made up the way the engine builds them.
    """
    doc = json.loads(path.read_text())
    items = doc["resources"] if isinstance(doc, Mapping) else doc
    recorded = []
    for item in items:
        type_token, name = item["type"], item["name"]
        recorded.append(
            Recorded(
                type=type_token,
                name=name,
                parent=item.get("parent"),
                parent_type=item.get("parent_type"),
                inputs=item.get("inputs", {}),
                secret_inputs=item.get("inputs", {}),
                custom=item.get("custom", True),
                urn=f"urn:pulumi:fixture::seqstack::{type_token}::{name}",
                protect=item.get("protect", False),
                retain_on_delete=item.get("retain_on_delete", False),
                dependencies=tuple(item.get("dependencies", ())),
            )
        )
    return recorded


def print_report(
    stack: str, resource_count: int, violations: Sequence[Violation], as_json: bool = False
) -> None:
    """Print violations as ``seqstack inventory --policy`` shows them (a Rich table, or JSON)."""
    from rich.table import Table

    from policies.rules import POLICY_NAMES
    from workflows.console import console as plain_console

    if as_json:
        print(json.dumps([asdict(v) for v in violations], indent=2))
        return
    console = plain_console()  # names and messages carry user text: never read as markup
    if not violations:
        console.print(
            f"policy pack: {len(POLICY_NAMES)} policies, {resource_count} resources of {stack}, no violation",
            style="green",
        )
        return
    table = Table(title=f"seqstack {stack}: {len(violations)} policy violations", show_lines=True)
    for column in ("policy", "level", "resource", "message"):
        table.add_column(column, overflow="fold")
    for v in violations:
        resource = f"{v.resource_name}\n{v.resource_type}" if v.resource_name else "(stack)"
        table.add_row(v.policy, v.enforcement, resource, v.message)
    console.print(table)
