"""EKS zones are chosen by zone ID: a zone EKS refuses is never among the subnets."""

from __future__ import annotations

import pytest

from components.aws_network import EKS_UNSUPPORTED_ZONE_IDS, eks_zones
from stacks.config import ConfigError
from stacks.harness import AZ_IDS, run_stack

SUBNET = "aws:ec2/subnet:Subnet"


def test_the_zone_eks_refuses_is_skipped_even_when_it_comes_first() -> None:
    # The mock maps us-east-1a to use1-az3, as a real account may.
    assert AZ_IDS["us-east-1"][0] == "use1-az3"
    inv = run_stack("dev-aws", overrides={"aws:region": "us-east-1"})
    zones = {r.inputs["availabilityZone"] for r in inv.of_type(SUBNET)}
    assert zones == {"us-east-1b", "us-east-1c", "us-east-1d"}


def test_too_few_supported_zones_is_a_config_error_naming_zone_count() -> None:
    # us-west-1 here has three zones, one of which EKS refuses.
    with pytest.raises(ConfigError, match=r"^seqstack:zoneCount: 3 zones asked for, us-west-1 offers 2 "):
        run_stack("dev-aws", overrides={"aws:region": "us-west-1"})
    inv = run_stack("dev-aws", overrides={"aws:region": "us-west-1", "seqstack:zoneCount": 2})
    assert {r.inputs["availabilityZone"] for r in inv.of_type(SUBNET)} == {"us-west-1b", "us-west-1c"}


def test_eks_zones_filters_by_id_not_name() -> None:
    assert {"use1-az3", "usw1-az2", "cac1-az3"} <= EKS_UNSUPPORTED_ZONE_IDS
    names = ["ca-central-1a", "ca-central-1b", "ca-central-1d"]
    assert eks_zones(names, ["cac1-az1", "cac1-az3", "cac1-az4"], 3) == ["ca-central-1a", "ca-central-1d"]
    assert eks_zones(names, ["cac1-az1", "cac1-az2", "cac1-az4"], 2) == ["ca-central-1a", "ca-central-1b"]
    with pytest.raises(ValueError, match="zone ids"):
        eks_zones(names, ["cac1-az1"], 2)
