"""The one set of Kubernetes and image name rules (workflows/k8s_names.py), and that the
components use it rather than regexes of their own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from workflows.k8s_names import (
    image_problem,
    label_key_problem,
    label_value_problem,
    name_problem,
    service_problem,
    subdomain_problem,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("good", ["biojobs", "a", "a-1", "1a", "x" * 63])
def test_names_that_kubernetes_accepts(good: str) -> None:
    assert name_problem(good) is None


@pytest.mark.parametrize("bad", ["", "Bio", "a_b", "-a", "a-", "a.b", "x" * 64, None, 5])
def test_names_that_kubernetes_refuses(bad: object) -> None:
    assert name_problem(bad) is not None


def test_subdomains_services_and_labels() -> None:
    assert subdomain_problem("seqstack-pipeline-v1.0.0") is None
    assert subdomain_problem("a..b") is not None and subdomain_problem("x" * 254) is not None
    assert service_problem("argo-workflows-server") is None and service_problem("1server") is not None
    assert label_key_problem("seqstack.io/pool") is None and label_key_problem("pool") is None
    assert label_key_problem("Bad_Prefix/pool") is not None and label_key_problem("a/b c") is not None
    assert label_value_problem("") is None and label_value_problem("large") is None
    assert label_value_problem("a b") is not None and label_value_problem(3) is not None


@pytest.mark.parametrize(
    "good",
    [
        "seqstack/fastqc:local",
        "ubuntu",
        "localhost:5000/tools/bwa:0.7.17",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/seqstack-align@sha256:" + "a" * 64,
        "europe-west4-docker.pkg.dev/p/seqstack/fastqc:0.12.1@sha256:" + "0" * 64,
    ],
)
def test_image_references_that_registries_accept(good: str) -> None:
    assert image_problem(good) is None


@pytest.mark.parametrize(
    "bad", ["", "not an image!", "Registry/UPPER/tool:1", "tool:", "tool@sha256:short", "tool:tag with space"]
)
def test_image_references_that_registries_refuse(bad: str) -> None:
    assert image_problem(bad) is not None


def test_no_component_keeps_its_own_kubernetes_name_regex() -> None:
    offenders = []
    for path in sorted((ROOT / "components").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "[-a-z0-9" in node.value:
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
