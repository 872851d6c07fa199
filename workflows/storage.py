"""Storage locations: URI checks and splitting at render time, existence checks before submit.

Rendering never touches storage; ``seqstack submit`` and ``seqstack index`` call
:func:`missing_objects` (fsspec with s3fs/gcsfs) so a typo in a sheet is one clear error
instead of a workflow that fails an hour later on the cluster.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from workflows.errors import UserError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class StorageError(UserError, ValueError):
    """A location that cannot be used (wrong scheme, no key, unreadable store)."""


def normalise_uri(value: str, scheme: str, base: Path | None = None) -> str:
    """Check ``value`` against the stack's ``scheme`` and return its canonical form.

    ``s3``/``gs``: ``<scheme>://bucket/key`` with a non-empty key. ``file``: an absolute local
    path (relative paths resolve against ``base``; ``file://`` URIs are accepted).
    """
    if _CONTROL.search(value) or "{{" in value or "}}" in value:
        raise StorageError(f"{value!r} contains control characters or '{{{{ }}}}' (not allowed in locations)")
    has_scheme = "://" in value
    given = value.split("://", 1)[0] if has_scheme else "file"
    if scheme == "file":
        if has_scheme and given != "file":
            raise StorageError(f"{value!r} is a {given}:// URI but this is a local run: give a local path")
        raw = value[len("file://") :] if has_scheme else value
        path = Path(raw).expanduser()
        if not path.is_absolute():
            path = (base or Path.cwd()) / path
        return str(path.resolve())
    if scheme not in ("s3", "gs"):
        raise StorageError(f"unknown storage scheme {scheme!r}")
    if given != scheme:
        what = f"{given}://" if has_scheme else "a local path"
        raise StorageError(f"{value!r} is {what} but this stack stores data at {scheme}://")
    bucket, _, key = value[len(scheme) + 3 :].partition("/")
    if not bucket or not key.strip("/"):
        raise StorageError(f"{value!r} needs a bucket and an object key ({scheme}://bucket/key)")
    return f"{scheme}://{bucket}/{key}"


def outside_bucket(uri: str, data_bucket: str) -> str | None:
    """Why ``uri`` (normalised, see :func:`normalise_uri`) is out of the pods' reach, or None.

    On a cloud the pipeline's pods can read and write only the stack's data bucket
    (``data_bucket``, e.g. ``s3://name``): a file elsewhere would fail to download or upload on
    the cluster, an Argo ``Error`` that the preemption retry then repeats. Local runs
    (``file://`` stacks) read any path.
    """
    if data_bucket.startswith("file://") or "://" not in uri:
        return None
    expected = data_bucket.rstrip("/")
    if uri.split("/", 3)[:3] == expected.split("/", 3)[:3]:
        return None
    return (
        f"{uri} is outside the stack's data bucket {expected} (the pipeline pods can reach only that "
        "bucket; copy the file there)"
    )


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://b/k`` -> ``("b", "k")``; a local path -> ``("", "/abs/path")``."""
    if "://" not in uri:
        return "", uri
    scheme, rest = uri.split("://", 1)
    if scheme == "file":
        return "", rest
    bucket, _, key = rest.partition("/")
    return bucket, key


def join_key(prefix: str, *parts: str) -> str:
    """Join key parts with single slashes (keys, not OS paths)."""
    return str(PurePosixPath(prefix.rstrip("/"), *parts)) if prefix else "/".join(parts)


def output_prefix(uri: str, scheme: str, base: Path | None = None) -> str:
    """Check an output prefix (a bucket or file-system root is refused: outputs need their own prefix)."""
    try:
        if scheme == "file":
            # Not rstrip("/") first: "/" would become "" and resolve to the current directory.
            path = normalise_uri(uri, scheme, base)
            if path == "/":
                raise StorageError(f"{uri!r} is the file-system root: give a directory for the outputs")
            return path
        return normalise_uri(uri.rstrip("/"), scheme, base).rstrip("/")
    except StorageError as exc:
        raise StorageError(f"--output: {exc}") from None


def missing_objects(uris: Iterable[str], storage_options: Mapping[str, Any] | None = None) -> list[str]:
    """The URIs (or local paths) in ``uris`` that do not exist, in order, without duplicates.

    ``storage_options`` go to fsspec per protocol, e.g. ``{"s3": {"client_kwargs": {...}}}``.
    Raises :class:`StorageError` when the store itself cannot be reached or read.
    """
    import fsspec

    options = dict(storage_options or {})
    filesystems: dict[str, Any] = {}
    missing: list[str] = []
    seen: set[str] = set()
    credential_errors = _credential_errors()
    check_errors: tuple[type[BaseException], ...] = (OSError, ValueError, *_sdk_errors())
    with _quiet_storage_libraries():
        for uri in uris:
            if uri in seen:
                continue
            seen.add(uri)
            protocol = uri.split("://", 1)[0] if "://" in uri else "file"
            if protocol not in filesystems:
                fs_options = dict(options.get(protocol, {}))
                if protocol in ("gs", "gcs") and "token" not in fs_options:
                    fs_options["token"] = _google_credentials()
                try:
                    filesystems[protocol] = fsspec.filesystem(protocol, **fs_options)
                except (ImportError, ValueError) as exc:
                    raise StorageError(f"cannot open {protocol}:// storage ({exc})") from None
            fs = filesystems[protocol]
            try:
                exists = fs.exists(uri)
            except credential_errors as exc:
                raise StorageError(
                    f"{uri}: {_NO_CREDENTIALS.get(protocol, 'no credentials')} ({exc})"
                ) from None
            except PermissionError as exc:
                raise StorageError(f"{uri}: access denied while checking it exists ({exc})") from None
            except check_errors as exc:  # unreachable endpoint, malformed URL...
                raise StorageError(f"{uri}: cannot check it exists ({exc})") from None
            if not exists:
                missing.append(uri)
    return missing


def _filesystem(uri: str, storage_options: Mapping[str, Any] | None) -> Any:
    import fsspec

    protocol = uri.split("://", 1)[0] if "://" in uri else "file"
    try:
        return fsspec.filesystem(protocol, **dict(storage_options or {}).get(protocol, {}))
    except (ImportError, ValueError) as exc:
        raise StorageError(f"cannot open {protocol}:// storage ({exc})") from None


def read_object(
    uri: str, storage_options: Mapping[str, Any] | None = None, limit: int | None = None
) -> bytes:
    """An object's bytes (only the first ``limit`` when given); :class:`StorageError` naming it."""
    fs = _filesystem(uri, storage_options)
    try:
        with fs.open(uri, "rb") as f:
            return bytes(f.read() if limit is None else f.read(limit))
    except OSError as exc:
        raise StorageError(f"{uri}: cannot read it ({exc})") from None


def object_sizes(uris: Iterable[str], storage_options: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Each object's size in bytes; :class:`StorageError` naming the first that cannot be read."""
    sizes: dict[str, int] = {}
    for uri in uris:
        try:
            sizes[uri] = int(_filesystem(uri, storage_options).size(uri))
        except (OSError, TypeError, ValueError) as exc:
            raise StorageError(f"{uri}: cannot read its size ({exc})") from None
    return sizes


_NO_CREDENTIALS = {
    "s3": "no usable AWS credentials (set AWS_PROFILE, or run `aws configure` or `aws sso login`)",
    "gs": "no usable Google Cloud credentials (run `gcloud auth application-default login`)",
}


def _credential_errors() -> tuple[type[BaseException], ...]:
    """The exceptions the cloud SDKs raise for missing or unusable credentials (not OSErrors:
    without this they would end the command in a library traceback)."""
    found: list[type[BaseException]] = []
    try:
        from botocore.exceptions import NoCredentialsError, PartialCredentialsError, TokenRetrievalError

        found += [NoCredentialsError, PartialCredentialsError, TokenRetrievalError]
    except ImportError:
        pass
    try:
        from google.auth.exceptions import DefaultCredentialsError, RefreshError

        found += [DefaultCredentialsError, RefreshError]
    except ImportError:
        pass
    return tuple(found)


def _sdk_errors() -> tuple[type[BaseException], ...]:
    """The cloud SDKs' own error bases (an endpoint that cannot be reached is not an OSError there)."""
    found: list[type[BaseException]] = []
    try:
        from botocore.exceptions import BotoCoreError

        found.append(BotoCoreError)
    except ImportError:
        pass
    try:
        from google.auth.exceptions import GoogleAuthError

        found.append(GoogleAuthError)
    except ImportError:
        pass
    return tuple(found)


def _google_credentials() -> Any:
    """Application Default Credentials for gcsfs, or one StorageError when there are none.

    Given no token, gcsfs tries each way to authenticate in turn and ends with anonymous
    access, whose requests it retries with backoff: about 50 s and a hundred lines of logged
    tracebacks before an error that does not mention credentials. Resolving them here first
    fails in well under a second with a line that does.
    """
    try:
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError
    except ImportError as exc:
        raise StorageError(f"cannot open gs:// storage ({exc})") from None
    try:
        credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/devstorage.read_only"])
    except DefaultCredentialsError:
        raise StorageError(f"gs://: {_NO_CREDENTIALS['gs']}; nothing was checked or submitted") from None
    return credentials


@contextmanager
def _quiet_storage_libraries() -> Iterator[None]:
    """Keep the storage libraries' own log records (retries, fallbacks, tracebacks) off stderr
    while they run: every failure they end in becomes one StorageError line."""
    loggers = [logging.getLogger(name) for name in ("gcsfs", "fsspec", "s3fs", "aiobotocore", "botocore")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
