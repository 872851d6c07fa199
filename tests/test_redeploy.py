"""Redeploy after destroy: `pulumi up`, `pulumi destroy` (the data bucket is retained), `pulumi up`
again reconnects the SAME bucket, with no create (no 409) and no second bucket.

The mock runtime records what the program declares; a small model of the engine and the cloud
plays the three steps on it: a resource with ``import_`` is read (it must exist, and the declared
inputs must equal the ones it was created with, as Pulumi's import demands), one without is
created (a bucket name that exists is S3's BucketAlreadyOwnedByYou / GCS's 409), destroy deletes
everything not ``retain_on_delete`` and forgets the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from stacks.harness import Inventory, Recorded, run_stack

BUCKETS = {"aws:s3/bucket:Bucket": "bucket", "gcp:storage/bucket:Bucket": "name"}


class AlreadyExistsError(Exception):
    """The cloud's 409 for a create of a bucket name that exists."""


@dataclass
class Cloud:
    """Buckets that exist, by name, with the inputs they were created with."""

    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)


@dataclass
class Engine:
    """The stack's state (URN -> physical bucket name) and the steps of one `up`."""

    cloud: Cloud
    state: dict[str, str] = field(default_factory=dict)

    def up(self, inv: Inventory) -> None:
        for r in _buckets(inv):
            name = str(r.inputs[BUCKETS[r.type]])
            if r.urn in self.state and (not r.import_id or _import_name(r) == self.state[r.urn]):
                continue  # managed already: an import option with the same id is a no-op
            if r.import_id:
                assert _import_name(r) == name, "import id names another bucket"
                if name not in self.cloud.buckets:
                    raise LookupError(f"import of {name}: no such bucket")
                if self.cloud.buckets[name] != r.inputs:
                    raise ValueError(f"import of {name}: inputs to import do not match the existing resource")
                self.cloud.imported.append(name)
            else:
                if name in self.cloud.buckets:
                    raise AlreadyExistsError(f"409: bucket {name} already exists")
                self.cloud.buckets[name] = dict(r.inputs)
                self.cloud.created.append(name)
            self.state[r.urn] = name

    def destroy(self, inv: Inventory) -> None:
        for r in _buckets(inv):
            if not r.retain_on_delete:
                del self.cloud.buckets[self.state[r.urn]]
        self.state.clear()


def _buckets(inv: Inventory) -> list[Recorded]:
    return [r for r in inv.resources if r.type in BUCKETS]


def _import_name(r: Recorded) -> str:
    # AWS imports a bucket by name, GCP by <project>/<name>.
    return r.import_id.rsplit("/", 1)[-1]


@pytest.mark.parametrize("stack", ["dev-aws", "dev-gcp"])
def test_destroy_then_up_with_adopt_reconnects_the_same_bucket(stack: str) -> None:
    cloud = Cloud()
    engine = Engine(cloud)

    first = run_stack(stack)
    engine.up(first)
    [name] = cloud.created
    assert not _buckets(first)[0].import_id  # the first up creates it

    engine.destroy(first)
    assert list(cloud.buckets) == [name]  # retained, with its data

    # The documented step: `pulumi config set seqstack:adoptDataBucket true`, then `pulumi up`.
    second = run_stack(stack, overrides={"seqstack:adoptDataBucket": True})
    engine.up(second)
    [bucket] = _buckets(second)
    assert bucket.inputs[BUCKETS[bucket.type]] == name  # the same name
    assert bucket.retain_on_delete
    assert cloud.imported == [name] and cloud.created == [name]  # adopted, nothing created
    assert list(cloud.buckets) == [name]  # no new bucket
    assert second.outputs["dataBucket"].endswith("://" + name)

    # Leaving the key on is harmless: the next up sees the bucket under management already.
    engine.up(run_stack(stack, overrides={"seqstack:adoptDataBucket": True}))
    assert cloud.imported == [name] and cloud.created == [name]


@pytest.mark.parametrize("stack", ["dev-aws", "dev-gcp"])
def test_without_adopt_the_redeploy_fails_loudly_instead_of_orphaning_data(stack: str) -> None:
    cloud = Cloud()
    engine = Engine(cloud)
    first = run_stack(stack)
    engine.up(first)
    engine.destroy(first)
    with pytest.raises(AlreadyExistsError):
        engine.up(run_stack(stack))
    assert len(cloud.buckets) == 1


def test_adopting_where_there_is_no_bucket_fails() -> None:
    with pytest.raises(LookupError, match="no such bucket"):
        Engine(Cloud()).up(run_stack("dev-aws", overrides={"seqstack:adoptDataBucket": True}))


def test_adopting_with_changed_settings_is_refused_like_pulumi_import() -> None:
    # GCP keeps lifecycle rules on the bucket itself: a changed expiry would not match.
    cloud = Cloud()
    engine = Engine(cloud)
    first = run_stack("dev-gcp")
    engine.up(first)
    engine.destroy(first)
    changed = run_stack(
        "dev-gcp", overrides={"seqstack:adoptDataBucket": True, "seqstack:scratchExpirationDays": 3}
    )
    with pytest.raises(ValueError, match="do not match"):
        engine.up(changed)


def test_aws_bucket_settings_are_declared_alike_on_adoption() -> None:
    # The settings resources are created again over the retained bucket: the same Put* of the
    # same configuration, so the adopted bucket ends up exactly as the first one was.
    def settings(inv: Inventory) -> dict[str, dict[str, Any]]:
        bucket = inv.one("aws:s3/bucket:Bucket")
        return {
            r.type: r.inputs for r in inv.resources if r.inputs.get("bucket") == bucket.id and r is not bucket
        }

    first = settings(run_stack("dev-aws"))
    again = settings(run_stack("dev-aws", overrides={"seqstack:adoptDataBucket": True}))
    assert len(first) == 6 and first == again


def test_adopt_needs_retain_data() -> None:
    from stacks.config import ConfigError

    with pytest.raises(ConfigError, match=r"^seqstack:adoptDataBucket: .*retainData"):
        run_stack("dev-aws", overrides={"seqstack:adoptDataBucket": True, "seqstack:retainData": False})
