"""Every IAM policy document the AWS program builds passes the parliament linter.

parliament (duo-labs) checks actions and condition keys against AWS's IAM reference, resource
ARN formats per action, and risky grants. A finding fails the test unless the allow-list below
excuses it, each entry with the reason the finding does not apply. The GCP stack has no policy
documents (its IAM is role bindings, checked by the policy pack's no-project-wide-storage-roles).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from parliament import analyze_policy_string

from stacks.harness import Inventory, Recorded, iter_policy_documents, run_stack


@dataclass(frozen=True)
class Allowed:
    """One excused finding: which issue, on which kind of document, and why it does not apply."""

    issue: str
    detail: str
    document: str
    """``trust`` (a role's assumeRolePolicy) or ``identity``/``resource`` (a ``policy`` input)."""
    reason: str


ALLOWED: tuple[Allowed, ...] = (
    Allowed(
        issue="MALFORMED",
        detail="Statement contains neither Resource nor NotResource",
        document="trust",
        reason="A role trust policy is attached to the role itself: IAM rejects a Resource element "
        "there. parliament lints every document as an identity policy, which must name one.",
    ),
)

# Inputs named `policy` that are not IAM documents (iter_policy_documents yields every `policy`).
NOT_IAM = {"aws:ecr/lifecyclePolicy:LifecyclePolicy": "ECR lifecycle rules ({'rules': [...]})"}


def _kind(r: Recorded, document: dict[str, Any]) -> str:
    trust = r.inputs.get("assumeRolePolicy")
    if isinstance(trust, str) and json.loads(trust) == document:
        return "trust"
    return "resource" if "Principal" in json.dumps(document.get("Statement")) else "identity"


def _findings(inventory: Inventory) -> list[tuple[str, str, str, str]]:
    """(resource, document kind, issue, detail) of every finding, IAM documents only."""
    found = []
    for r, document in iter_policy_documents(inventory):
        if "Statement" not in document:
            assert r.type in NOT_IAM, f"{r.type} {r.name}: policy document without Statement: {document}"
            continue
        policy = analyze_policy_string(json.dumps(document), include_community_auditors=True)
        for f in policy.findings:
            found.append((f"{r.type} {r.name}", _kind(r, document), f.issue, str(f.detail)))
    return found


def _excused(kind: str, issue: str, detail: str) -> Allowed | None:
    return next((a for a in ALLOWED if (a.document, a.issue) == (kind, issue) and a.detail in detail), None)


@pytest.fixture(scope="module")
def aws_inventory() -> Inventory:
    return run_stack("dev-aws")


def test_aws_stack_has_iam_documents_to_lint(aws_inventory: Inventory) -> None:
    kinds = {_kind(r, d) for r, d in iter_policy_documents(aws_inventory) if "Statement" in d}
    # Roles with trust policies, the workload's identity policy, the bucket's resource policy.
    assert {"trust", "identity", "resource"} <= kinds


def test_every_aws_policy_document_passes_parliament(aws_inventory: Inventory) -> None:
    unexcused = [f for f in _findings(aws_inventory) if _excused(*f[1:]) is None]
    assert unexcused == [], "\n".join(" | ".join(f) for f in unexcused)


def test_every_allow_list_entry_is_still_needed(aws_inventory: Inventory) -> None:
    used = {_excused(*f[1:]) for f in _findings(aws_inventory)}
    assert set(ALLOWED) <= used, f"stale allow-list entries: {set(ALLOWED) - used}"


@pytest.mark.parametrize(
    ("statement", "issue"),
    [
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, "RESOURCE_STAR"),
        ({"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "arn:aws:s3:::b/*"}, "UNKNOWN_ACTION"),
        ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b"}, "RESOURCE_MISMATCH"),
    ],
)
def test_the_linter_catches_what_it_is_trusted_to_catch(statement: dict[str, Any], issue: str) -> None:
    document = {"Version": "2012-10-17", "Statement": [statement]}
    issues = {f.issue for f in analyze_policy_string(json.dumps(document)).findings}
    assert issue in issues
