"""Stack config the pipeline cannot use is refused by key, before anything is declared.

Each value here passed config validation before and would have failed late: after the network
and cluster exist (unknown or Arm machine types), or at run time with a pod Pending for ever
(machines, disks or quotas smaller than one step's pod).
"""

from __future__ import annotations

from typing import Any

import pytest

from components.argo_workflows import ArgoWorkflowsArgs, S3Repository, argo_values
from stacks.config import ConfigError, parse_config
from stacks.fit import EXECUTOR_CPU, EXECUTOR_EPHEMERAL_GIB, EXECUTOR_MEMORY_MIB, quantity
from stacks.harness import run_stack
from stacks.loader import read_stack_file
from stacks.machines import MachineError, machine
from workflows.contract import pool_placement

# (stack, overrides, the message's start)
REFUSED: list[tuple[str, dict[str, Any], str]] = [
    # quotas below one task's request
    ("dev-aws", {"seqstack:quotaCpu": "1"}, "seqstack:quotaCpu: 1 is below the 30.1 CPU one align pod"),
    ("dev-gcp", {"seqstack:quotaMemory": "64Gi"}, "seqstack:quotaMemory: 64Gi is below the 96.125 GiB"),
    ("dev-aws", {"seqstack:quotaEphemeralStorage": "100Gi"}, "seqstack:quotaEphemeralStorage: 100Gi"),
    # GPU and Arm types
    (
        "dev-aws",
        {"seqstack:largeMachineTypes": ["g5.8xlarge"]},
        "seqstack:largeMachineTypes: g5.8xlarge has GPUs",
    ),
    (
        "dev-gcp",
        {"seqstack:largeMachineTypes": ["a2-highgpu-4g"]},
        "seqstack:largeMachineTypes: a2-highgpu-4g has",
    ),
    (
        "dev-aws",
        {"seqstack:smallMachineTypes": ["m7g.xlarge"]},
        "seqstack:smallMachineTypes: m7g.xlarge is an Arm",
    ),
    (
        "dev-gcp",
        {"seqstack:systemMachineTypes": ["t2a-standard-2"]},
        "seqstack:systemMachineTypes: t2a-standard-2 is an Arm",
    ),
    # machines too small for their pool, mixed sizes
    (
        "dev-aws",
        {"seqstack:largeMachineTypes": ["c6i.8xlarge"]},
        "seqstack:largeMachineTypes: c6i.8xlarge (32 vCPU, 64 GiB",
    ),
    (
        "dev-gcp",
        {"seqstack:largeMachineTypes": ["n2-standard-16"]},
        "seqstack:largeMachineTypes: n2-standard-16",
    ),
    ("dev-aws", {"seqstack:smallMachineTypes": ["t3.medium"]}, "seqstack:smallMachineTypes: t3.medium"),
    (
        "dev-aws",
        {"seqstack:systemMachineTypes": ["c5a.large"], "seqstack:systemDiskGiB": 10},
        "seqstack:systemDiskGiB: 10",
    ),
    (
        "dev-aws",
        {"seqstack:largeMachineTypes": ["m6i.8xlarge", "m6i.4xlarge"]},
        "seqstack:largeMachineTypes: mixes sizes m6i.8xlarge (32 vCPU, 128 GiB) and m6i.4xlarge",
    ),
    # unknown machine types: a typo, a size that does not exist, the other cloud's name
    (
        "dev-aws",
        {"seqstack:largeMachineTypes": ["m6i.8xlarg"]},
        "seqstack:largeMachineTypes: m6i.8xlarg is not an EC2",
    ),
    (
        "dev-aws",
        {"seqstack:largeMachineTypes": ["m5.32xlarge"]},
        "seqstack:largeMachineTypes: m5.32xlarge is not",
    ),
    (
        "dev-aws",
        {"seqstack:smallMachineTypes": ["n2-standard-4"]},
        "seqstack:smallMachineTypes: n2-standard-4 is not",
    ),
    (
        "dev-gcp",
        {"seqstack:largeMachineTypes": ["n2-standard-33"]},
        "seqstack:largeMachineTypes: n2-standard-33 is not",
    ),
    # disks smaller than a step's scratch
    ("dev-aws", {"seqstack:largeDiskGiB": 300}, "seqstack:largeDiskGiB: 300 GiB leaves about 250 GiB"),
    ("dev-gcp", {"seqstack:smallDiskGiB": 50}, "seqstack:smallDiskGiB: 50 GiB leaves about 25 GiB"),
    # absurd max nodes
    ("dev-aws", {"seqstack:largeMaxNodes": 5000}, "seqstack:largeMaxNodes: 5000 is more than 100 nodes"),
    ("dev-gcp", {"seqstack:smallMaxNodes": 101}, "seqstack:smallMaxNodes: 101 is more than 100 nodes"),
]


@pytest.mark.parametrize(
    ("stack", "overrides", "message"), REFUSED, ids=[m.split(" ")[0] + m.split(" ")[1] for *_, m in REFUSED]
)
def test_config_the_pipeline_cannot_use_is_refused_by_key_before_anything_is_declared(
    stack: str, overrides: dict[str, Any], message: str, set_mocks_calls: list[str]
) -> None:
    raw = {**read_stack_file(stack), **overrides}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, stack)
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError) as via_program:
        run_stack(stack, overrides=overrides)
    assert str(via_program.value) == str(err.value)
    assert set_mocks_calls == []


@pytest.mark.parametrize(
    ("stack", "overrides"),
    [
        ("dev-aws", {"seqstack:largeMachineTypes": ["r6i.8xlarge"], "seqstack:quotaCpu": "31"}),
        (
            "dev-aws",
            {"seqstack:largeMachineTypes": ["m7i.16xlarge", "m6a.16xlarge"], "seqstack:largeMaxNodes": 100},
        ),
        ("dev-gcp", {"seqstack:largeMachineTypes": ["n2d-standard-32"], "seqstack:largeDiskGiB": 420}),
        ("dev-gcp", {"seqstack:quotaMemory": "97Gi", "seqstack:quotaEphemeralStorage": "351Gi"}),
        ("dev-aws", {"seqstack:systemMachineTypes": ["t3a.medium"], "seqstack:systemDiskGiB": 20}),
    ],
)
def test_the_neighbouring_values_that_can_work_are_accepted(stack: str, overrides: dict[str, Any]) -> None:
    parse_config({**read_stack_file(stack), **overrides}, stack)


def test_machine_shapes_are_the_published_ones() -> None:
    shapes = {
        ("aws", "t3.large"): (2, 8),
        ("aws", "m6i.xlarge"): (4, 16),
        ("aws", "m6i.8xlarge"): (32, 128),
        ("aws", "c6i.8xlarge"): (32, 64),
        ("aws", "r6i.8xlarge"): (32, 256),
        ("gcp", "e2-standard-2"): (2, 8),
        ("gcp", "n2-standard-32"): (32, 128),
        ("gcp", "n2-highcpu-32"): (32, 32),
    }
    for (cloud, name), shape in shapes.items():
        m = machine(cloud, name)
        assert (m.vcpus, m.memory_gib) == shape, name
    with pytest.raises(MachineError):
        machine("gcp", "m6i.xlarge")


def test_the_executor_overhead_is_what_the_helm_values_request() -> None:
    args = ArgoWorkflowsArgs(
        artifact_repository=S3Repository(bucket="b", region="eu-west-1"),
        system_placement=pool_placement("system", tainted=False),
    )
    values = argo_values(args, "b")
    requests = values["executor"]["resources"]["requests"]
    assert quantity(requests["cpu"]) == EXECUTOR_CPU
    assert quantity(requests["memory"]) == EXECUTOR_MEMORY_MIB * 2**20
    assert quantity(requests["ephemeral-storage"]) == EXECUTOR_EPHEMERAL_GIB * 2**30


def test_quantity_reads_kubernetes_suffixes() -> None:
    assert quantity("500m") == 0.5
    assert quantity("2Ti") == 2 * 2**40
    assert quantity("1.5") == 1.5
    with pytest.raises(ValueError):
        quantity("lots")


def test_the_catalogue_agrees_with_the_shapes_the_fit_test_was_written_with() -> None:
    from tests.test_pipeline_fit import SHAPES

    for name, (vcpus, gib) in SHAPES.items():
        cloud = "aws" if "." in name else "gcp"
        m = machine(cloud, name)
        assert (m.vcpus, m.memory_gib) == (vcpus, gib), name
