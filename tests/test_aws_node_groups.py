"""dev-aws node groups: capacity, sizes, labels/taints from the contract, launch template, ASG tags."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from components.aws_node_group import AwsNodeGroupArgs, autoscaler_tags
from components.pools import Capacity
from stacks.harness import Inventory, run_stack
from workflows.contract import POOL_NAMES, pool_placement

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ASG_TAG = "aws:autoscaling/tag:Tag"
CA = "k8s.io/cluster-autoscaler"


def test_node_groups_match_the_pool_config(aws_inv: Inventory) -> None:
    cfg = aws_inv.config
    assert sorted(r.name for r in aws_inv.of_type(NODE_GROUP)) == sorted(f"pool-{p}-ng" for p in POOL_NAMES)
    private_subnets = sorted(aws_inv.named(f"network-private-{i}").id for i in range(3))
    node_role_arn = "arn:aws:iam::123456789012:role/"
    for pool in cfg.pools:
        ng = aws_inv.named(f"pool-{pool.name}-ng").inputs
        assert ng["clusterName"] == "seqstack-dev"
        assert ng["capacityType"] == ("SPOT" if pool.spot else "ON_DEMAND"), pool.name
        assert ng["instanceTypes"] == list(pool.machine_types), pool.name
        assert ng["scalingConfig"] == {
            "minSize": pool.min_nodes,
            "maxSize": pool.max_nodes,
            "desiredSize": pool.min_nodes,
        }, pool.name
        assert sorted(ng["subnetIds"]) == private_subnets, pool.name
        assert ng["nodeRoleArn"].startswith(node_role_arn + "cluster-node-role"), pool.name
        assert ng["amiType"] == "AL2023_x86_64_STANDARD"
        assert "diskSize" not in ng  # the disk is set in the launch template (EKS rejects both)

    system, small, large = (aws_inv.named(f"pool-{p}-ng").inputs for p in POOL_NAMES)
    assert system["capacityType"] == "ON_DEMAND" and system["scalingConfig"]["minSize"] >= 1
    assert small["capacityType"] == large["capacityType"] == "SPOT"
    assert small["scalingConfig"]["minSize"] == large["scalingConfig"]["minSize"] == 0
    assert small["instanceTypes"] == ["m6i.xlarge", "m5.xlarge", "m6a.xlarge", "m5a.xlarge"]
    assert len(large["instanceTypes"]) >= 3


def test_labels_and_taints_come_from_the_contract(aws_inv: Inventory) -> None:
    for pool in aws_inv.config.pools:
        ng = aws_inv.named(f"pool-{pool.name}-ng").inputs
        placement = pool_placement(pool.name, tainted=pool.spot)
        assert ng["labels"] == {"seqstack.io/pool": pool.name} == dict(placement.node_selector)
        expected_taints = [{"key": "seqstack.io/pool", "value": pool.name, "effect": "NO_SCHEDULE"}]
        assert ng.get("taints", []) == (expected_taints if pool.spot else []), pool.name
        # What the nodePools output tells pods to tolerate is exactly what the nodes carry.
        assert aws_inv.outputs["nodePools"][pool.name] == placement.to_json()


def test_pool_sizes_and_capacity_follow_config_overrides() -> None:
    inv = run_stack(
        "dev-aws",
        overrides={
            "seqstack:largeMaxNodes": 8,
            "seqstack:largeDiskGiB": 800,
            "seqstack:systemSpot": True,
            "seqstack:smallSpot": False,
        },
    )
    large = inv.named("pool-large-ng").inputs
    assert large["scalingConfig"]["maxSize"] == 8
    lt = inv.named("pool-large-lt").inputs
    assert lt["blockDeviceMappings"][0]["ebs"]["volumeSize"] == 800
    system, small = inv.named("pool-system-ng").inputs, inv.named("pool-small-ng").inputs
    assert system["capacityType"] == "SPOT" and system["taints"][0]["value"] == "system"
    assert small["capacityType"] == "ON_DEMAND" and not small.get("taints")


def test_launch_templates_require_imdsv2_with_hop_limit_1_and_encrypted_gp3_disks(aws_inv: Inventory) -> None:
    for pool in aws_inv.config.pools:
        lt = aws_inv.named(f"pool-{pool.name}-lt")
        assert lt.inputs["metadataOptions"] == {
            "httpEndpoint": "enabled",
            "httpTokens": "required",
            "httpPutResponseHopLimit": 1,
        }
        [disk] = lt.inputs["blockDeviceMappings"]
        assert disk["deviceName"] == "/dev/xvda"
        assert disk["ebs"] == {
            "volumeSize": pool.disk_gib,
            "volumeType": "gp3",
            "encrypted": "true",
            "deleteOnTermination": "true",
        }
        ng = aws_inv.named(f"pool-{pool.name}-ng")
        assert ng.inputs["launchTemplate"] == {"id": lt.id, "version": "1"}
        assert "imageId" not in lt.inputs  # EKS picks the AMI and merges its bootstrap user data


def test_asg_tags_let_the_autoscaler_scale_each_pool_up_from_zero(aws_inv: Inventory) -> None:
    for pool in aws_inv.config.pools:
        tags = [t for t in aws_inv.of_type(ASG_TAG) if t.parent == f"pool-{pool.name}"]
        asg_names = {t.inputs["autoscalingGroupName"] for t in tags}
        assert len(asg_names) == 1 and next(iter(asg_names)).startswith(f"eks-pool-{pool.name}-ng-")
        assert all(f"pool-{pool.name}-ng" in t.dependencies for t in tags)
        assert all(t.inputs["tag"]["propagateAtLaunch"] is False for t in tags)
        got = {t.inputs["tag"]["key"]: t.inputs["tag"]["value"] for t in tags}
        expected = {
            f"{CA}/enabled": "true",
            f"{CA}/seqstack-dev": "owned",
            f"{CA}/node-template/label/seqstack.io/pool": pool.name,
            f"{CA}/node-template/resources/ephemeral-storage": f"{pool.disk_gib}Gi",
        }
        if pool.spot:
            expected[f"{CA}/node-template/taint/seqstack.io/pool"] = f"{pool.name}:NoSchedule"
        assert got == expected, pool.name


def test_nodes_wait_for_their_role_policies_the_cni_identity_and_the_way_out(aws_inv: Inventory) -> None:
    egress = {f"network-private-{i}-{kind}" for i in range(3) for kind in ("default", "rta")}
    egress |= {"network-s3", "network-ecr-api", "network-ecr-dkr", "network-eks-auth"}
    for pool in POOL_NAMES:
        deps = set(aws_inv.named(f"pool-{pool}-ng").dependencies)
        assert {
            "cluster-eks",
            "cluster-node-AmazonEKSWorkerNodePolicy",
            "cluster-node-AmazonEC2ContainerRegistryPullOnly",
            "cluster-pod-identity-agent",
            "cni-identity-association",
            *egress,
        } <= deps, pool


def test_node_group_args_reject_impossible_pools() -> None:
    def args(**changes: Any) -> AwsNodeGroupArgs:
        fields: dict[str, Any] = {
            "pool_name": "large",
            "cluster_name": "c",
            "autoscaler_cluster_name": "c",
            "node_role_arn": "arn",
            "subnet_ids": ["s"],
            "machine_types": ("c6i.8xlarge",),
            "min_nodes": 0,
            "max_nodes": 4,
            "disk_gib": 500,
            "capacity": Capacity.SPOT,
            "placement": pool_placement("large", tainted=True),
        }
        return AwsNodeGroupArgs(**{**fields, **changes})

    assert autoscaler_tags(args())[f"{CA}/node-template/taint/seqstack.io/pool"] == "large:NoSchedule"
    odd = pool_placement("large", tainted=True)
    odd = replace(odd, tolerations=tuple(replace(t, effect="Sometimes") for t in odd.tolerations))
    for changes, message in (
        ({"machine_types": ()}, "machine_types: large lists no machine types"),
        ({"min_nodes": 5}, "min <= max"),
        ({"max_nodes": 0}, "max >= 1"),
        ({"disk_gib": 10}, "disk_gib: large disk 10 GiB"),
        ({"subnet_ids": []}, "subnet_ids: large needs at least one subnet"),
        ({"placement": odd}, "unknown taint effect"),
    ):
        with pytest.raises(ValueError, match=message):
            args(**changes)
