"""Run rendered Argo Workflow objects on this machine: the subset of Argo the seqstack DAG uses.

This is an interpreter of the very dicts ``workflows.render.render`` produces for the cluster,
not a second copy of the pipeline. It implements DAG templates (``depends``/``dependencies``,
``when``, ``withItems``/``withParam``, ``failFast``, ``continueOn``), container and script
templates run as local processes, ``{{...}}`` parameter substitution, output parameters read
from files, artifacts whose location is the ``seqstack-local`` plugin (key = local path),
``retryStrategy`` (policy, limit, backoff, expression), deadlines, named mutexes, and
``workflowTemplateRef``/``templateRef``. :mod:`workflows.local.schema` lists every field it
accepts; anything else is rejected before a single process starts.

Local mapping of pod concepts:

* every emptyDir volume mount (``/work``) becomes the task's own directory, so parallel tasks
  never collide; artifact paths and environment values under a mount are rewritten, and a
  script that names the mount literally is refused (it would write into the host's ``/work``);
* a task costs its template's cpu and memory requests (each capped at the budget) from shared
  CPU and memory budgets, as the Kubernetes scheduler places pods by their requests;
* each process runs in its own process group; a process killed by SIGKILL/SIGTERM is reported
  as Argo reports a deleted pod (status ``Error``, message ``pod deleted``), a non-zero exit as
  ``Failed`` with ``Error (exit code N)``;
* output artifacts are published only after the process exited 0 and every declared output
  exists (stage, then atomic rename), like Argo's wait container, so a partial file never
  reaches its final location;
* the pod itself (uids of the init, wait and main containers as root, Argo's staging modes,
  the emptyDir ``sizeLimit``) is emulated by :mod:`workflows.local.pod`.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from workflows import quantities
from workflows.local import expr
from workflows.local.pod import Pod, PodEmulation, PodError, StageItem, Volume, output_paths
from workflows.local.schema import check_supported
from workflows.local.toollog import first_error

#: Node phases, as Argo names them.
SUCCEEDED, FAILED, ERROR, SKIPPED, OMITTED = "Succeeded", "Failed", "Error", "Skipped", "Omitted"
PENDING, RUNNING = "Pending", "Running"
DONE_PHASES = frozenset({SUCCEEDED, FAILED, ERROR, SKIPPED, OMITTED})

#: What Argo says when a pod disappears under a running step (preemption, node loss).
POD_DELETED = "pod deleted"
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"

_TAG = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_FROM = re.compile(r"^\{\{\s*tasks\.([A-Za-z0-9_-]+)\.outputs\.artifacts\.([A-Za-z0-9_-]+)\s*\}\}$")


class UnsupportedWorkflowError(ValueError):
    """A rendered object uses something the local executor does not implement."""


class TemplateError(RuntimeError):
    """A template cannot be run as given (unresolved parameter, bad path); fails its node."""


class RunAbortedError(RuntimeError):
    """The run itself failed (its listener could not record an event, or a worker thread died):
    every task was stopped. The message is the cause's, one line; ``__cause__`` is the error."""


@dataclass
class Attempt:
    """One run of a container/script template's process."""

    number: int
    started: float
    finished: float | None = None
    status: str = RUNNING
    message: str = ""
    exit_code: int | None = None
    command: list[str] = field(default_factory=list)
    log: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "attempt": self.number,
            "status": self.status,
            "message": self.message,
            "exitCode": self.exit_code,
            "started": _iso(self.started),
            "finished": _iso(self.finished),
            "durationSeconds": round((self.finished or self.started) - self.started, 3),
            "command": self.command,
            "log": self.log,
        }


@dataclass
class Node:
    """A node of the run: a task invocation (Pod), a DAG, or a fan-out group."""

    key: str
    """Stable path, e.g. ``seqstack-1/samples(0:s1)/align``; the resume key."""
    task: str
    """Task name in its DAG (``align``), or the workflow name for the root."""
    template: str
    kind: str  # "Pod", "DAG", "TaskGroup"
    sample: str | None = None
    phase: str = PENDING
    message: str = ""
    started: float | None = None
    finished: float | None = None
    attempts: list[Attempt] = field(default_factory=list)
    parameters: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    cached: bool = False
    fingerprint: str = ""
    digests: dict[str, list[list[Any]]] = field(default_factory=dict)

    @property
    def resume_key(self) -> str:
        """Key of this node in run.json for ``--resume``: the path without fan-out indices and
        workflow names, so the same sample's task is found again even if the sheet changed."""
        return re.sub(r"\(\d+:([^)]*)\)", r"(\1)", self.display)

    @property
    def display(self) -> str:
        """The key without the workflow name: ``samples(0:s1)/align``."""
        return self.key.split("/", 1)[1] if "/" in self.key else self.key

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.resume_key,
            "node": self.key,
            "task": self.task,
            "template": self.template,
            "sample": self.sample,
            "status": self.phase,
            "message": self.message,
            "cached": self.cached,
            "started": _iso(self.started),
            "finished": _iso(self.finished),
            "attempts": [a.to_json() for a in self.attempts],
            "outputs": {
                "parameters": self.parameters,
                "artifacts": {
                    name: {"path": path, "files": self.digests.get(name, [])}
                    for name, path in self.artifacts.items()
                },
            },
            "fingerprint": self.fingerprint,
        }


class Listener(Protocol):
    """Receives node events (progress display, logs). Called from worker threads."""

    def event(self, node: Node, what: str) -> None: ...


@dataclass(frozen=True)
class Fault:
    """``kill:<glob>@<attempt>[:after=<s>]``: SIGKILL a matching task's process on that attempt."""

    glob: str
    attempt: int
    after: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Fault:
        m = re.fullmatch(r"kill:([^@]+)@(\d+)(?::after=(\d+(?:\.\d+)?))?", text.strip())
        if not m:
            raise ValueError(f"bad fault {text!r}: expected kill:<task-glob>@<attempt>[:after=<seconds>]")
        return cls(glob=m.group(1), attempt=int(m.group(2)), after=float(m.group(3) or 0))

    def matches(self, node: Node, attempt: int) -> bool:
        if attempt != self.attempt:
            return False
        names = (node.task, node.display, f"{node.sample}/{node.task}" if node.sample else node.task)
        return any(fnmatch.fnmatchcase(n, self.glob) for n in names)


def parse_duration(value: Any, what: str) -> float:
    """An Argo duration in seconds (:func:`workflows.quantities.parse_duration`); a value that
    cannot be read fails the template, naming ``what``."""
    try:
        return quantities.parse_duration(value)
    except quantities.QuantityError as exc:
        raise TemplateError(f"{what}: {exc}") from None


def _requested(requests: Mapping[str, Any], key: str, read: Callable[[Any], float], where: str) -> float:
    try:
        return read(requests[key])
    except quantities.QuantityError as exc:
        raise TemplateError(f"{where}: resources.requests.{key}: {exc}") from None


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}Z"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:120]


def file_digests(path: Path) -> list[list[Any]]:
    """``[[relative path, size, sha256], ...]`` of a file or every file under a directory."""
    if path.is_file():
        return [[".", path.stat().st_size, _sha256(path)]]
    out = []
    for p in sorted(path.rglob("*")):
        if p.is_file():
            out.append([p.relative_to(path).as_posix(), p.stat().st_size, _sha256(p)])
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _stat_signature(path: Path) -> list[Any]:
    """Cheap identity of an input (size, mtime) so a changed input invalidates a cached task."""
    if not path.exists():
        return [str(path), None]
    if path.is_file():
        st = path.stat()
        return [str(path), st.st_size, st.st_mtime_ns]
    return [str(path), [_stat_signature(p)[1:] for p in sorted(path.rglob("*")) if p.is_file()]]


class _CpuBudget:
    """A FIFO budget of cores and memory: a task waits its turn, so big tasks are not starved by
    small ones, and tasks whose memory requests do not fit together never run together."""

    def __init__(self, cpus: float, memory_mib: float = math.inf) -> None:
        self.total = cpus
        self.free = cpus
        self.free_mib = memory_mib
        self.cond = threading.Condition()
        self.queue: deque[object] = deque()

    def acquire(self, cost: float, cancelled: threading.Event, mib: float = 0.0) -> bool:
        ticket = object()
        with self.cond:
            self.queue.append(ticket)
            while not cancelled.is_set() and (
                self.queue[0] is not ticket or self.free + 1e-9 < cost or self.free_mib + 1e-9 < mib
            ):
                self.cond.wait(0.2)
            self.queue.remove(ticket)
            if cancelled.is_set():
                self.cond.notify_all()
                return False
            self.free -= cost
            self.free_mib -= mib
            self.cond.notify_all()
            return True

    def release(self, cost: float, mib: float = 0.0) -> None:
        with self.cond:
            self.free += cost
            self.free_mib += mib
            self.cond.notify_all()


@dataclass
class _Scope:
    """Where a template was found (its WorkflowTemplate or Workflow) and the workflow's globals."""

    templates: Mapping[str, Mapping[str, Any]]
    workflow_name: str
    namespace: str
    parameters: Mapping[str, str]
    volumes: Mapping[str, Mapping[str, Any]]
    retry: Mapping[str, Any] | None
    deadline: float | None
    entrypoint: str | None = None
    pod_security: Mapping[str, Any] = field(default_factory=dict)
    """The workflow's pod securityContext (uids and fsGroup, for the pod emulation)."""


class Executor:
    """Interpret rendered Workflow objects; see the module docstring."""

    def __init__(
        self,
        objects: Sequence[Mapping[str, Any]],
        *,
        cpus: float,
        state_dir: Path,
        memory_mib: float | None = None,
        listener: Listener | None = None,
        faults: Sequence[Fault] = (),
        previous: Mapping[str, Mapping[str, Any]] | None = None,
        terminate_grace: float = 5.0,
        env: Mapping[str, str] | None = None,
        pods: PodEmulation | None = None,
    ) -> None:
        problems = [p for obj in objects for p in check_supported(obj)]
        if problems:
            raise UnsupportedWorkflowError(
                "the local executor does not support:\n  " + "\n  ".join(problems[:50])
            )
        self.objects = list(objects)
        self.cpus = float(cpus)
        self.state_dir = state_dir
        self.listener = listener
        self.faults = list(faults)
        self.previous = dict(previous or {})
        self.terminate_grace = terminate_grace
        self.env = dict(os.environ if env is None else env)
        #: How pods are emulated (identities as root, volumes, sizeLimit): workflows.local.pod.
        self.pods = pods or PodEmulation()
        self.cancelled = threading.Event()
        self.fatal: BaseException | None = None
        self.memory_mib = math.inf if memory_mib is None else float(memory_mib)
        self.budget = _CpuBudget(self.cpus, self.memory_mib)
        self.nodes: list[Node] = []
        self.roots: list[Node] = []
        self._lock = threading.Lock()
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._stopping = False
        self._mutexes: dict[str, threading.Lock] = {}
        self._wftemplates = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "WorkflowTemplate"}
        self.workflows = [o for o in objects if o.get("kind") == "Workflow"]

    # ----------------------------------------------------------------------------------- running

    def run(self) -> list[Node]:
        """Run every Workflow (concurrently, sharing the CPU budget); return their root nodes.

        Blocks until done. A KeyboardInterrupt in the calling thread cancels the run: running
        processes get SIGTERM, then SIGKILL after ``terminate_grace`` seconds; it is re-raised
        once every process is gone.
        """
        threads = []
        done: list[threading.Event] = []
        for index, wf in enumerate(self.workflows):
            scope = self._workflow_scope(wf, index)
            root = Node(key=scope.workflow_name, task=scope.workflow_name, template="", kind="DAG")
            self.roots.append(root)
            finished = threading.Event()
            done.append(finished)
            t = threading.Thread(target=self._run_workflow, args=(wf, scope, root, finished), daemon=True)
            threads.append(t)
        for t in threads:
            t.start()
        # Wait on events, not Thread.join: a KeyboardInterrupt inside join() can leave CPython
        # (3.11, bpo-45274) believing the thread stopped, and the run would return under it.
        try:
            for finished in done:
                while not finished.wait(0.2):
                    if self.fatal is not None and not self._stopping:
                        self._stopping = True
                        self.cancel()  # from here: signals need the main thread's patience
        except KeyboardInterrupt:
            self.cancel()
            for finished in done:
                finished.wait()
            raise
        if self.fatal is not None:
            if not self._stopping:
                self.cancel()
            raise RunAbortedError(str(self.fatal) or repr(self.fatal)) from self.fatal
        return self.roots

    def _abort(self, exc: BaseException) -> None:
        """A failure outside any task (the listener, a worker thread): stop starting tasks at
        once; :meth:`run` stops the running ones and raises :class:`RunAbortedError`."""
        with self._lock:
            if self.fatal is None:
                self.fatal = exc
        self.cancelled.set()
        with self.budget.cond:
            self.budget.cond.notify_all()

    def cancel(self) -> None:
        """Stop starting tasks; SIGTERM every running process group, SIGKILL the survivors."""
        self.cancelled.set()
        with self._lock:
            procs = list(self._procs.values())
        for p in procs:
            _signal_group(p, signal.SIGTERM)
        deadline = time.monotonic() + self.terminate_grace
        for p in procs:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(p, signal.SIGKILL)
        for p in procs:
            _signal_group(p, signal.SIGKILL)  # stragglers that left the leader behind
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(5)
        with self.budget.cond:
            self.budget.cond.notify_all()

    def _workflow_scope(self, wf: Mapping[str, Any], index: int) -> _Scope:
        meta = wf.get("metadata") or {}
        name = meta.get("name") or f"{str(meta.get('generateName') or 'workflow-').rstrip('-')}-{index + 1}"
        spec = dict(wf.get("spec") or {})
        ref = spec.get("workflowTemplateRef")
        templates_spec = spec
        if ref:
            wft = self._wftemplates.get(ref.get("name", ""))
            if wft is None:
                raise UnsupportedWorkflowError(
                    f"Workflow {name}: WorkflowTemplate {ref.get('name')!r} not rendered"
                )
            base = dict(wft.get("spec") or {})
            merged = {**base, **{k: v for k, v in spec.items() if k != "workflowTemplateRef"}}
            params = {p["name"]: p for p in (base.get("arguments") or {}).get("parameters", [])}
            for p in (spec.get("arguments") or {}).get("parameters", []):
                params[p["name"]] = p
            merged["arguments"] = {"parameters": list(params.values())}
            templates_spec = merged
        parameters: dict[str, str] = {}
        for p in (templates_spec.get("arguments") or {}).get("parameters", []):
            value = p.get("value", p.get("default"))
            if value is None:
                raise UnsupportedWorkflowError(f"Workflow {name}: parameter {p['name']!r} has no value")
            parameters[p["name"]] = _string(value)
        deadline = templates_spec.get("activeDeadlineSeconds")
        return _Scope(
            templates={t["name"]: t for t in templates_spec.get("templates", [])},
            workflow_name=name,
            namespace=str(meta.get("namespace") or "default"),
            parameters=parameters,
            volumes={v["name"]: v for v in templates_spec.get("volumes") or []},
            retry=templates_spec.get("retryStrategy"),
            deadline=None if deadline is None else time.monotonic() + float(deadline),
            entrypoint=templates_spec.get("entrypoint"),
            pod_security=templates_spec.get("securityContext") or {},
        )

    def _run_workflow(
        self, wf: Mapping[str, Any], scope: _Scope, root: Node, finished: threading.Event
    ) -> None:
        try:
            self._run_root(scope, root)
        finally:
            finished.set()

    def _run_root(self, scope: _Scope, root: Node) -> None:
        entry = scope.entrypoint
        root.started = time.time()
        root.phase = RUNNING
        try:
            if not entry or entry not in scope.templates:
                raise TemplateError(f"entrypoint {entry!r} is not a template")
            root.template = entry
            self._invoke(scope, scope.templates[entry], {}, {}, root)
        except TemplateError as exc:
            root.phase, root.message = ERROR, str(exc)
        except Exception as exc:  # a bug must fail the run visibly, never hang it
            root.phase, root.message = ERROR, f"internal error: {exc!r}"
        root.finished = time.time()
        self._emit(root, "finished")

    def _emit(self, node: Node, what: str) -> None:
        if self.listener is None:
            return
        try:
            self.listener.event(node, what)
        except Exception as exc:  # e.g. run.json cannot be written: the run cannot go on
            self._abort(exc)

    def _guarded(self, node: Node, run: Callable[[], None]) -> None:
        """Run a node's work; a template problem or a bug fails that node, never hangs the run."""
        try:
            run()
        except TemplateError as exc:
            node.phase, node.message = ERROR, str(exc)
        except Exception as exc:
            node.phase, node.message = ERROR, f"internal error: {exc!r}"
        else:
            return
        node.finished = time.time()
        self._emit(node, "finished")

    def _new_node(self, key: str, task: str, template: str, kind: str, sample: str | None) -> Node:
        node = Node(key=key, task=task, template=template, kind=kind, sample=sample)
        with self._lock:
            self.nodes.append(node)
        return node

    # ------------------------------------------------------------------------------- templates

    def _resolve(self, scope: _Scope, task: Mapping[str, Any]) -> tuple[_Scope, Mapping[str, Any]]:
        ref = task.get("templateRef")
        if ref:
            wft = self._wftemplates.get(ref.get("name", ""))
            if wft is None:
                raise TemplateError(f"templateRef {ref.get('name')!r}: WorkflowTemplate not rendered")
            templates = {t["name"]: t for t in (wft.get("spec") or {}).get("templates", [])}
            if ref.get("template") not in templates:
                raise TemplateError(f"templateRef {ref}: no such template")
            new = _Scope(
                templates=templates,
                workflow_name=scope.workflow_name,
                namespace=scope.namespace,
                parameters=scope.parameters,
                volumes={
                    **{v["name"]: v for v in (wft.get("spec") or {}).get("volumes") or []},
                    **scope.volumes,
                },
                retry=scope.retry,
                deadline=scope.deadline,
                pod_security=scope.pod_security,
            )
            return new, templates[ref["template"]]
        name = str(task.get("template"))
        if name not in scope.templates:
            raise TemplateError(f"task {task.get('name')!r}: template {name!r} not found")
        return scope, scope.templates[name]

    def _invoke(
        self,
        scope: _Scope,
        tmpl: Mapping[str, Any],
        params: Mapping[str, str],
        artifacts: Mapping[str, str],
        node: Node,
    ) -> None:
        """Run ``tmpl`` with argument values; sets ``node``'s phase and outputs."""
        inputs: dict[str, str] = {}
        for p in (tmpl.get("inputs") or {}).get("parameters", []):
            if p["name"] in params:
                inputs[p["name"]] = params[p["name"]]
            elif "value" in p:
                inputs[p["name"]] = _string(p["value"])
            elif "default" in p:
                inputs[p["name"]] = _string(p["default"])
            else:
                raise TemplateError(f"template {tmpl['name']}: input parameter {p['name']!r} not supplied")
            enum = p.get("enum")
            if enum and inputs[p["name"]] not in [_string(e) for e in enum]:
                raise TemplateError(
                    f"template {tmpl['name']}: {p['name']}={inputs[p['name']]!r} not in {enum}"
                )
        if "dag" in tmpl:
            self._run_dag(scope, tmpl, inputs, artifacts, node)
        else:
            self._run_pod(scope, tmpl, inputs, artifacts, node)

    def _globals(self, scope: _Scope) -> dict[str, str]:
        values = {"workflow.name": scope.workflow_name, "workflow.namespace": scope.namespace}
        for k, v in scope.parameters.items():
            values[f"workflow.parameters.{k}"] = v
        return values

    # ------------------------------------------------------------------------------------- DAG

    def _run_dag(
        self,
        scope: _Scope,
        tmpl: Mapping[str, Any],
        inputs: Mapping[str, str],
        artifacts: Mapping[str, str],
        node: Node,
    ) -> None:
        node.kind = "DAG"
        node.phase, node.started = RUNNING, node.started or time.time()
        values = self._globals(scope)
        values.update({f"inputs.parameters.{k}": v for k, v in inputs.items()})
        dag = substitute(tmpl["dag"], values, strict=False, where=f"template {tmpl['name']}")
        tasks: dict[str, Mapping[str, Any]] = {t["name"]: t for t in dag["tasks"]}
        fail_fast = dag.get("failFast", True) is not False
        trees: dict[str, Any] = {}
        for name, t in tasks.items():
            if "depends" in t and "dependencies" in t:
                raise TemplateError(f"task {name}: use depends or dependencies, not both")
            text = t.get("depends") or " && ".join(t.get("dependencies") or [])
            try:
                trees[name] = expr.parse_depends(text) if text else None
            except expr.ExprError as exc:
                raise TemplateError(f"task {name}: {exc}") from None
            for operand in expr.depends_operands(trees[name]) if trees[name] else []:
                if operand.split(".")[0] not in tasks:
                    raise TemplateError(f"task {name}: depends on unknown task {operand.split('.')[0]!r}")
        referenced = {
            op.split(".")[0]: op for tree in trees.values() if tree for op in expr.depends_operands(tree)
        }
        states: dict[str, Node] = {}
        waiting = dict(tasks)
        done: dict[str, Node] = {}
        finished: deque[str] = deque()
        cond = threading.Condition()
        running = 0
        tripped = False

        def worker(name: str, child: Node) -> None:
            try:
                self._guarded(
                    child, lambda: self._run_task(scope, tasks[name], child, states, artifacts, values)
                )
            except BaseException as exc:  # never leave the DAG waiting for a thread that died
                child.phase, child.message = ERROR, f"internal error: {exc!r}"
                self._abort(exc)
            finally:
                with cond:
                    finished.append(name)
                    cond.notify_all()

        while waiting or running:
            scan = True
            while scan:  # omitting a task can unblock others at once
                scan = False
                for name in list(waiting):
                    tree = trees[name]
                    deps = expr.depends_operands(tree) if tree else []
                    if any(d.split(".")[0] not in done for d in deps):
                        continue
                    del waiting[name]
                    child = self._new_node(f"{node.key}/{name}", name, "", "Pod", node.sample)
                    states[name] = child
                    ok = tree is None or expr.eval_depends(tree, lambda t, r: _result(done[t], r), name)
                    if not ok or self.cancelled.is_set() or (fail_fast and tripped):
                        child.phase = OMITTED
                        child.message = "depends not met" if ok is False else "run stopped"
                        child.started = child.finished = time.time()
                        done[name] = child
                        self._emit(child, "finished")
                        scan = True
                        continue
                    running += 1
                    threading.Thread(target=worker, args=(name, child), daemon=True).start()
            if not running:
                if waiting:  # only happens with a dependency cycle
                    raise TemplateError(f"template {tmpl['name']}: dependency cycle among {sorted(waiting)}")
                break
            with cond:
                while not finished:
                    cond.wait(0.5)
                name = finished.popleft()
            running -= 1
            child = states[name]
            done[name] = child
            handled = child.phase in (FAILED, ERROR) and _continues(tasks[name], child.phase)
            if child.phase in (FAILED, ERROR) and not handled and name not in referenced:
                tripped = True
            elif child.phase in (FAILED, ERROR) and not handled:
                op = referenced[name]
                tripped = tripped or "." not in op  # a plain dependency cannot handle a failure

        # Argo's rule: the DAG's phase is that of its leaf tasks; an omitted leaf inherits the
        # worst phase of the branch that led to it, so a failure before an omitted task counts.
        leaves = [n for n in tasks if n not in referenced]
        branch: dict[str, str] = {}

        def branch_phase(name: str) -> str:
            if name in branch:
                return branch[name]
            child = done[name]
            phase = child.phase
            if phase == OMITTED and trees[name] is not None:
                parents = {op.split(".")[0] for op in expr.depends_operands(trees[name])}
                phases = [branch_phase(p) for p in parents]
                bad = [p for p in phases if p in (FAILED, ERROR)]
                phase = bad[0] if bad else OMITTED
            branch[name] = phase
            return phase

        failures = [
            (name, branch_phase(name))
            for name in leaves
            if branch_phase(name) in (FAILED, ERROR) and not _continues(tasks[name], branch_phase(name))
        ]
        if self.cancelled.is_set():
            node.phase, node.message = ERROR, "interrupted"
        elif failures:
            name, phase = failures[0]
            node.phase = FAILED
            node.message = f"task {name!r} {phase.lower()}: {first_failure(done[name])}"
        else:
            node.phase = SUCCEEDED
        node.children = [done[n] for n in tasks if n in done]
        # DAG outputs: parameters taken from its tasks.
        scope_values = dict(values)
        scope_values.update(_task_values(done))
        for p in (tmpl.get("outputs") or {}).get("parameters", []):
            source = (p.get("valueFrom") or {}).get("parameter", p.get("value"))
            if source is not None and node.phase == SUCCEEDED:
                node.parameters[p["name"]] = substitute(
                    _string(source), scope_values, strict=True, where=f"template {tmpl['name']} outputs"
                )
        node.finished = time.time()

    def _run_task(
        self,
        scope: _Scope,
        task: Mapping[str, Any],
        node: Node,
        states: Mapping[str, Node],
        dag_artifacts: Mapping[str, str],
        dag_values: Mapping[str, str],
    ) -> None:
        values = dict(dag_values)
        values.update(_task_values({n: s for n, s in states.items() if s.phase in DONE_PHASES}))
        where = f"task {node.display}"
        items: list[Any] | None = None
        if "withItems" in task:
            items = list(task["withItems"])
        elif "withParam" in task:
            raw = substitute(_string(task["withParam"]), values, strict=True, where=where)
            try:
                items = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise TemplateError(f"{where}: withParam is not a JSON list ({exc.msg})") from None
            if not isinstance(items, list):
                raise TemplateError(f"{where}: withParam is not a JSON list")
        node.started = time.time()
        if items is None:
            self._run_one(scope, task, node, values, states, where)
            return
        node.kind = "TaskGroup"
        node.phase = RUNNING
        node.template = str(task.get("template") or (task.get("templateRef") or {}).get("template"))
        self._emit(node, "started")
        children: list[Node] = []
        threads = []
        for i, item in enumerate(items):
            label = _item_label(item)
            child = self._new_node(f"{node.key}({i}:{label})", node.task, "", "Pod", node.sample)
            if isinstance(item, Mapping) and isinstance(item.get("sample"), str):
                child.sample = item["sample"]
            item_values = dict(values)
            item_values.update(_item_values(item))
            children.append(child)

            def go(child: Node = child, item_values: dict[str, str] = item_values) -> None:
                self._guarded(child, lambda: self._run_one(scope, task, child, item_values, states, where))

            t = threading.Thread(target=go, daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        node.children = children
        phases = [c.phase for c in children]
        if not children or all(p == SKIPPED for p in phases):
            node.phase = SKIPPED
        elif any(p in (FAILED, ERROR) for p in phases):
            node.phase = FAILED
            bad = [c for c in children if c.phase in (FAILED, ERROR)]
            node.message = f"{len(bad)} of {len(children)} failed"
        else:
            node.phase = SUCCEEDED
        # Argo aggregates the children's output parameters into a JSON list.
        names = {k for c in children for k in c.parameters}
        for k in names:
            node.parameters[k] = json.dumps([c.parameters.get(k, "") for c in children])
        node.finished = time.time()
        self._emit(node, "finished")

    def _run_one(
        self,
        scope: _Scope,
        task: Mapping[str, Any],
        node: Node,
        values: Mapping[str, str],
        states: Mapping[str, Node],
        where: str,
    ) -> None:
        node.started = node.started or time.time()
        args = substitute(task.get("arguments") or {}, values, strict=True, where=where)
        params = {p["name"]: _string(p.get("value", "")) for p in args.get("parameters", [])}
        if node.sample is None and "sample" in params:
            node.sample = params["sample"]
        artifacts: dict[str, str] = {}
        for a in (task.get("arguments") or {}).get("artifacts", []):
            if "from" in a:
                m = _FROM.match(str(a["from"]))
                if not m or m.group(1) not in states:
                    raise TemplateError(f"{where}: artifact {a['name']}: cannot resolve from={a['from']!r}")
                source = states[m.group(1)].artifacts.get(m.group(2))
                if source is None:
                    raise TemplateError(f"{where}: task {m.group(1)} has no output artifact {m.group(2)!r}")
                artifacts[a["name"]] = source
            elif "plugin" in a:
                artifacts[a["name"]] = substitute(a["plugin"]["key"], values, strict=True, where=where)
        sub_scope, tmpl = self._resolve(scope, task)
        node.template = tmpl["name"]
        if "when" in task:
            condition = substitute(_string(task["when"]), values, strict=True, where=f"{where} when")
            try:
                run = expr.eval_when(condition)
            except expr.ExprError as exc:
                raise TemplateError(f"{where}: {exc}") from None
            if not run:
                node.phase, node.message = SKIPPED, f"when {condition} is false"
                node.finished = time.time()
                self._emit(node, "finished")
                return
        self._invoke(sub_scope, tmpl, params, artifacts, node)
        if node.kind == "DAG":
            self._emit(node, "finished")

    # ------------------------------------------------------------------------- leaf templates

    def _run_pod(
        self,
        scope: _Scope,
        tmpl: Mapping[str, Any],
        inputs: Mapping[str, str],
        arg_artifacts: Mapping[str, str],
        node: Node,
    ) -> None:
        node.kind = "Pod"
        body_key = "container" if "container" in tmpl else "script"
        where = f"{node.display} (template {tmpl['name']})"
        volumes = {**scope.volumes, **{v["name"]: v for v in tmpl.get("volumes") or []}}
        body = tmpl[body_key]
        try:
            # A template's securityContext is the pod's (it replaces the workflow's).
            pod = self.pods.pod(
                node.key,
                _safe(node.key),
                self.state_dir,
                tmpl.get("securityContext") or scope.pod_security,
                body.get("securityContext"),
                where,
            )
        except PodError as exc:
            raise TemplateError(str(exc)) from None
        workdir = pod.workdir
        mounts = body.get("volumeMounts") or []
        for m in mounts:
            if m["name"] not in volumes:
                raise TemplateError(f"{where}: volume {m['name']!r} is not declared")
        mount_map = {
            str(m["mountPath"]).rstrip("/") or "/": workdir
            if len(mounts) == 1
            else workdir / _safe(m["name"])
            for m in mounts
        }
        pod.attach(
            Volume(
                m["name"], mount_map[str(m["mountPath"]).rstrip("/") or "/"], _size_limit(volumes[m["name"]])
            )
            for m in mounts
        )

        def local_path(p: str, what: str) -> Path:
            for mount, target in mount_map.items():
                if p == mount or p.startswith(mount + "/"):
                    return target / p[len(mount) :].lstrip("/")
            raise TemplateError(f"{where}: {what} path {p!r} is not under an emptyDir volume mount")

        # The script must name the work dir through $WORK: checked on the template as written,
        # before substitution brings in local paths (which may well live under a /work too).
        self._refuse_literal_mounts(body, mount_map, where)
        # Environment values that point into a mount are mapped as written, for the same reason.
        raw_env = []
        for e in body.get("env") or []:
            value = _string(e.get("value", ""))
            for mount, target in mount_map.items():
                if value == mount or value.startswith(mount + "/"):
                    value = str(target) + value[len(mount) :]
            raw_env.append((e["name"], value))

        values = self._globals(scope)
        values.update({f"inputs.parameters.{k}": v for k, v in inputs.items()})
        values["pod.name"] = _safe(node.key)
        values["retries"] = "0"
        stage1 = substitute({k: v for k, v in tmpl.items() if k != "dag"}, values, strict=False, where=where)
        for a in (stage1.get("inputs") or {}).get("artifacts", []):
            values[f"inputs.artifacts.{a['name']}.path"] = str(
                local_path(a["path"], f"input artifact {a['name']}")
            )
        for a in (stage1.get("outputs") or {}).get("artifacts", []):
            values[f"outputs.artifacts.{a['name']}.path"] = str(
                local_path(a["path"], f"output artifact {a['name']}")
            )
        for p in (stage1.get("outputs") or {}).get("parameters", []):
            if "path" in (p.get("valueFrom") or {}):
                values[f"outputs.parameters.{p['name']}.path"] = str(
                    local_path(p["valueFrom"]["path"], f"output parameter {p['name']}")
                )
        resolved = substitute(stage1, values, strict=True, where=where)
        body = resolved[body_key]

        # Where inputs come from: the task's arguments, else a location written in the template.
        in_sources: list[tuple[Mapping[str, Any], str | None]] = []
        for a in resolved.get("inputs", {}).get("artifacts", []):
            src = arg_artifacts.get(a["name"])
            if src is None and "plugin" in a:
                src = a["plugin"]["key"]
            if src is None and "raw" not in a:
                if a.get("optional"):
                    in_sources.append((a, None))
                    continue
                raise TemplateError(f"{where}: input artifact {a['name']!r} has no location")
            in_sources.append((a, src))

        env = {**self.env, **pod.environment(self.env)}
        for name, value in raw_env:
            env[name] = substitute(value, values, strict=True, where=f"{where} env {name}")
        command = [*(body.get("command") or []), *(body.get("args") or [])]
        if not command:
            raise TemplateError(f"{where}: no command (local runs need an explicit command)")
        script_path = pod.script_path
        if body_key == "script":
            script_path.parent.mkdir(parents=True, exist_ok=True)
            script_path.write_text(body.get("source", ""))
            command = [*(body.get("command") or []), str(script_path), *(body.get("args") or [])]
        cwd = Path(local_path(body["workingDir"], "workingDir")) if body.get("workingDir") else workdir

        cost = 1.0
        requests = ((tmpl.get(body_key) or {}).get("resources") or {}).get("requests") or {}
        if "cpu" in requests:
            cost = _requested(requests, "cpu", quantities.cpu_cores, where)
        cost = max(0.0, min(cost, self.cpus))
        # Memory is booked like cpu (requests = limits here): two aligns each sized for the whole
        # memory budget must not run side by side just because the cores would allow it.
        mib = _requested(requests, "memory", quantities.memory_mib, where) if "memory" in requests else 0.0
        mib = max(0.0, min(mib, self.memory_mib))

        retry = tmpl.get("retryStrategy") or scope.retry
        limit = int(_string(retry.get("limit", 0))) if retry else 0
        policy = (retry or {}).get("retryPolicy") or (
            "Always" if (retry or {}).get("expression") else "OnFailure"
        )
        if policy not in ("Always", "OnFailure", "OnError"):
            raise TemplateError(f"{where}: retryPolicy {policy!r} is not supported locally")
        deadline_s = tmpl.get("activeDeadlineSeconds")
        if deadline_s is None and tmpl.get("timeout") is not None:
            deadline_s = parse_duration(tmpl["timeout"], f"{where} timeout")

        node.fingerprint = self._fingerprint(command, body, script_path, body_key, in_sources, resolved)
        if self._reuse(node, resolved):
            return

        mutex_names = [m["name"] for m in ((tmpl.get("synchronization") or {}).get("mutexes") or [])]
        single = (tmpl.get("synchronization") or {}).get("mutex")
        if single:
            mutex_names.append(single["name"])
        locks = [self._mutex(n) for n in sorted(mutex_names)]

        node.phase = PENDING
        self._emit(node, "pending")
        first_start: float | None = None
        for number in range(1, limit + 2):
            if number > 1:
                delay = self._backoff(retry or {}, number, first_start or time.time(), where)
                if delay is None:
                    node.message = f"{node.message} (retry backoff maxDuration exceeded)"
                    break
                if self.cancelled.wait(delay):
                    break
            for lk in locks:
                lk.acquire()
            try:
                if not self.budget.acquire(cost, self.cancelled, mib):
                    break
                try:
                    attempt = self._attempt(
                        node,
                        number,
                        command,
                        env,
                        cwd,
                        workdir,
                        in_sources,
                        resolved,
                        mount_map,
                        local_path,
                        self._attempt_deadline(deadline_s, retry or {}, first_start, where),
                        scope,
                        where,
                        pod,
                    )
                finally:
                    self.budget.release(cost, mib)
            finally:
                for lk in reversed(locks):
                    lk.release()
            first_start = first_start or attempt.started
            node.phase, node.message = attempt.status, attempt.message
            if attempt.status == SUCCEEDED or self.cancelled.is_set():
                break
            if not self._should_retry(retry, policy, attempt, number, limit, where):
                break
            self._emit(node, "retrying")
        if self.cancelled.is_set() and node.phase != SUCCEEDED:
            node.phase, node.message = ERROR, "interrupted"
        node.finished = time.time()
        self._emit(node, "finished")

    def _refuse_literal_mounts(self, body: Mapping[str, Any], mounts: Mapping[str, Path], where: str) -> None:
        text = "\n".join(
            [
                *map(_string, body.get("command") or []),
                *map(_string, body.get("args") or []),
                _string(body.get("source", "")),
            ]
        )
        for mount in mounts:
            if re.search(rf"(?<![\w/.:$-]){re.escape(mount)}(?=/|\s|$|[\"'])", text):
                raise TemplateError(
                    f'{where}: the script names the volume mount {mount} literally; use "$WORK" '
                    "(the local executor maps the mount to the task's own directory)"
                )

    def _mutex(self, name: str) -> threading.Lock:
        with self._lock:
            return self._mutexes.setdefault(name, threading.Lock())

    def _backoff(self, retry: Mapping[str, Any], number: int, first_start: float, where: str) -> float | None:
        backoff = retry.get("backoff") or {}
        if not backoff:
            return 0.0
        base = parse_duration(backoff.get("duration", 0), f"{where} backoff.duration")
        factor = float(_string(backoff.get("factor", 1)))
        delay = base * factor ** (number - 2)
        if backoff.get("cap") is not None:
            delay = min(delay, parse_duration(backoff["cap"], f"{where} backoff.cap"))
        if backoff.get("maxDuration") is not None:
            max_d = parse_duration(backoff["maxDuration"], f"{where} backoff.maxDuration")
            if time.time() + delay - first_start > max_d:
                return None
        return delay

    def _attempt_deadline(
        self, deadline_s: float | None, retry: Mapping[str, Any], first_start: float | None, where: str
    ) -> float | None:
        """A retry may only use what is left of backoff.maxDuration (counted from the first
        attempt's start), as Argo shortens retries' deadlines."""
        max_d = (retry.get("backoff") or {}).get("maxDuration")
        if first_start is None or max_d is None:
            return deadline_s
        left = max(0.0, parse_duration(max_d, f"{where} backoff.maxDuration") - (time.time() - first_start))
        return left if deadline_s is None else min(float(deadline_s), left)

    def _should_retry(
        self,
        retry: Mapping[str, Any] | None,
        policy: str,
        attempt: Attempt,
        number: int,
        limit: int,
        where: str,
    ) -> bool:
        if retry is None or number > limit:
            return False
        if policy == "OnFailure" and attempt.status != FAILED:
            return False
        if policy == "OnError" and attempt.status != ERROR:
            return False
        expression = retry.get("expression")
        if not expression:
            return True
        variables: dict[str, expr.Value] = {
            "lastRetry.status": attempt.status,
            "lastRetry.message": attempt.message,
            # Argo hands the exit code to the expression as a string ("-1" when there is none).
            "lastRetry.exitCode": str(attempt.exit_code if attempt.exit_code is not None else -1),
            "lastRetry.duration": str(int((attempt.finished or attempt.started) - attempt.started)),
        }
        try:
            return expr.eval_retry(expression, variables)
        except expr.ExprError as exc:
            raise TemplateError(f"{where}: retryStrategy.expression: {exc}") from None

    def _attempt(
        self,
        node: Node,
        number: int,
        command: list[str],
        env: Mapping[str, str],
        cwd: Path,
        workdir: Path,
        in_sources: list[tuple[Mapping[str, Any], str | None]],
        resolved: Mapping[str, Any],
        mount_map: Mapping[str, Path],
        local_path: Callable[[str, str], Path],
        deadline_s: float | None,
        scope: _Scope,
        where: str,
        pod: Pod,
    ) -> Attempt:
        logs = self.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"{_safe(node.key)}.{number}.log"
        attempt = Attempt(number=number, started=time.time(), command=command, log=str(log))
        node.attempts.append(attempt)
        node.phase = RUNNING
        self._emit(node, "started")
        shutil.rmtree(workdir, ignore_errors=True)
        for target in mount_map.values():
            target.mkdir(parents=True, exist_ok=True)
        cwd.mkdir(parents=True, exist_ok=True)
        try:
            pod.prepare()
            self._stage_inputs(in_sources, local_path, where, pod)
        except (TemplateError, PodError) as exc:  # Argo: the init container failed, node Error
            return self._end(attempt, ERROR, str(exc), None, workdir)
        fault = next((f for f in self.faults if f.matches(node, number)), None)
        deadline = None if deadline_s is None else time.monotonic() + float(deadline_s)
        if scope.deadline is not None:
            deadline = scope.deadline if deadline is None else min(deadline, scope.deadline)
        with log.open("wb") as out:
            try:
                proc = subprocess.Popen(
                    command,
                    cwd=cwd,
                    env=dict(env),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    **pod.popen(),
                )
            except OSError as exc:
                return self._end(
                    attempt, FAILED, f"cannot start {command[0]!r}: {exc.strerror}", 127, workdir
                )
            with self._lock:
                self._procs[id(proc)] = proc
                # cancel() sets the flag before it snapshots _procs under this lock: a process
                # started just after that snapshot is ours to stop, or Ctrl-C waits for it to end.
                late = self.cancelled.is_set()
            if late:
                _signal_group(proc, signal.SIGKILL)
            size_watch = pod.watch(proc.pid, self.pods.size_poll)
            killed_by_deadline = False
            try:
                kill_at = None if fault is None else time.monotonic() + fault.after
                while True:
                    timeout = 0.5
                    now = time.monotonic()
                    if kill_at is not None:
                        timeout = min(timeout, max(0.0, kill_at - now))
                    if deadline is not None:
                        timeout = min(timeout, max(0.0, deadline - now))
                    try:
                        proc.wait(timeout)
                        break
                    except subprocess.TimeoutExpired:
                        pass
                    now = time.monotonic()
                    if kill_at is not None and now >= kill_at:
                        _signal_group(proc, signal.SIGKILL)
                        kill_at = None
                    if deadline is not None and now >= deadline:
                        killed_by_deadline = True
                        _signal_group(proc, signal.SIGKILL)
                        deadline = None
            finally:
                with self._lock:
                    self._procs.pop(id(proc), None)
            # The leader is gone; anything it left running in its group goes too.
            _signal_group(proc, signal.SIGKILL)
            evicted = size_watch.stop()
        rc = proc.returncode
        if evicted:  # the kubelet evicted the pod: Argo's node is Failed with the pod's message
            return self._end(attempt, FAILED, evicted, rc, workdir)
        if killed_by_deadline:
            return self._end(attempt, FAILED, DEADLINE_MESSAGE, rc, workdir)
        if self.cancelled.is_set() and rc != 0:
            return self._end(attempt, ERROR, "interrupted", rc, workdir)
        if rc < 0:
            # A process killed from outside is what a deleted (preempted) pod looks like in Argo.
            return self._end(attempt, ERROR, POD_DELETED, 128 - rc, workdir)
        if rc != 0:
            cause = first_error(log)  # the tool's own first error line, not the last symptom
            return self._end(
                attempt, FAILED, f"Error (exit code {rc})" + (f": {cause}" if cause else ""), rc, workdir
            )
        try:
            pod.stage_out(output_paths(resolved, local_path), where)
            self._collect_outputs(node, resolved, local_path, where)
        except (TemplateError, PodError) as exc:
            return self._end(attempt, ERROR, str(exc), rc, workdir)
        return self._end(attempt, SUCCEEDED, "", rc, workdir)

    def _end(self, attempt: Attempt, status: str, message: str, code: int | None, workdir: Path) -> Attempt:
        attempt.status, attempt.message, attempt.exit_code = status, message, code
        attempt.finished = time.time()
        # Nothing of a task's work directory survives it: outputs were moved out on success, and
        # a failed attempt's partial files must never be mistaken for results.
        shutil.rmtree(workdir, ignore_errors=True)
        return attempt

    def _stage_inputs(
        self,
        sources: list[tuple[Mapping[str, Any], str | None]],
        local_path: Callable[[str, str], Path],
        where: str,
        pod: Pod,
    ) -> None:
        items: list[StageItem] = []
        for art, src in sources:
            dest = local_path(art["path"], f"input artifact {art['name']}")
            if any(i.dest == dest for i in items):
                raise TemplateError(f"{where}: input artifact {art['name']}: {art['path']} staged twice")
            if "raw" in art and src is None:
                items.append(StageItem(art["name"], dest, raw=art["raw"].get("data", "")))
                continue
            if src is None:
                continue
            source = Path(src)
            if not source.is_absolute():
                raise TemplateError(
                    f"{where}: input artifact {art['name']}: key {src!r} is not an absolute path"
                )
            if not source.exists():
                if art.get("optional"):
                    continue
                raise TemplateError(f"{where}: input artifact {art['name']}: {src} does not exist")
            items.append(StageItem(art["name"], dest, source))
        if pod.emulated:  # as Argo's init container would, as the executor's uid
            pod.stage_in(items, where)
            return
        for item in items:
            dest = item.dest
            dest.parent.mkdir(parents=True, exist_ok=True)
            if item.source is None:
                dest.write_text(item.raw or "")
                continue
            source = item.source
            if dest.exists() or dest.is_symlink():
                raise TemplateError(f"{where}: input artifact {item.name}: {dest} staged twice")
            if source.is_dir():
                # A directory arrives as a real directory (as Argo unpacks one), so `find` and
                # MultiQC see its files; hard links keep that free of copies where possible.
                shutil.copytree(source, dest, symlinks=False, copy_function=_link_or_copy)
            else:
                # Tools only read their inputs: a symlink costs nothing, whatever the file's size.
                dest.symlink_to(source.resolve())

    def _collect_outputs(
        self, node: Node, resolved: Mapping[str, Any], local_path: Callable[[str, str], Path], where: str
    ) -> None:
        outputs = resolved.get("outputs") or {}
        params: dict[str, str] = {}
        for p in outputs.get("parameters", []):
            vf = p.get("valueFrom") or {}
            if "value" in p:
                params[p["name"]] = _string(p["value"])
                continue
            path = local_path(vf["path"], f"output parameter {p['name']}")
            try:
                text = path.read_text()
                params[p["name"]] = text[:-1] if text.endswith("\n") else text
            except OSError:
                if "default" not in vf:
                    raise TemplateError(
                        f"{where}: output parameter {p['name']!r}: {vf['path']} not found"
                    ) from None
                params[p["name"]] = _string(vf["default"])
        plan: list[tuple[str, Path, Path]] = []
        for a in outputs.get("artifacts", []):
            src = local_path(a["path"], f"output artifact {a['name']}")
            if not src.exists():
                if a.get("optional"):
                    continue
                raise TemplateError(f"{where}: output artifact {a['name']!r}: {a['path']} was not written")
            if "plugin" in a:
                dest = Path(a["plugin"]["key"])
                if not dest.is_absolute():
                    raise TemplateError(f"{where}: output artifact {a['name']}: key {dest} is not absolute")
            else:  # Argo's default artifact repository, locally a directory of the run
                dest = self.state_dir / "artifacts" / _safe(node.key) / a["name"]
            plan.append((a["name"], src, dest))
        artifacts: dict[str, str] = {}
        digests: dict[str, list[list[Any]]] = {}
        for name, src, dest in plan:
            _publish(src, dest)
            artifacts[name] = str(dest)
            digests[name] = file_digests(dest)
        node.parameters, node.artifacts, node.digests = params, artifacts, digests

    # ------------------------------------------------------------------------------- resuming

    def _fingerprint(
        self,
        command: list[str],
        body: Mapping[str, Any],
        script: Path,
        body_key: str,
        sources: list[tuple[Mapping[str, Any], str | None]],
        resolved: Mapping[str, Any],
    ) -> str:
        data = {
            "command": command,
            "source": body.get("source") if body_key == "script" else None,
            "env": body.get("env"),
            "inputs": [_stat_signature(Path(src)) if src else None for _, src in sources],
            "outputs": resolved.get("outputs"),
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def _reuse(self, node: Node, resolved: Mapping[str, Any]) -> bool:
        """``--resume``: keep a previous success whose fingerprint and every output still match."""
        prev = self.previous.get(node.resume_key)
        if not prev or prev.get("status") != SUCCEEDED or prev.get("fingerprint") != node.fingerprint:
            return False
        arts = (prev.get("outputs") or {}).get("artifacts") or {}
        declared = {
            a["name"] for a in (resolved.get("outputs") or {}).get("artifacts", []) if not a.get("optional")
        }
        if not declared <= set(arts):
            return False
        for _name, rec in arts.items():
            path = Path(rec["path"])
            if not path.exists():
                return False
            expected = rec.get("files") or []
            # Sizes first (cheap), then content: a half-written or replaced file never counts.
            actual_sizes = (
                [[".", path.stat().st_size]]
                if path.is_file()
                else [
                    [p.relative_to(path).as_posix(), p.stat().st_size]
                    for p in sorted(path.rglob("*"))
                    if p.is_file()
                ]
            )
            if actual_sizes != [[f[0], f[1]] for f in expected]:
                return False
            if file_digests(path) != expected:
                return False
        node.parameters = dict((prev.get("outputs") or {}).get("parameters") or {})
        node.artifacts = {name: rec["path"] for name, rec in arts.items()}
        node.digests = {name: rec.get("files") or [] for name, rec in arts.items()}
        node.attempts = []
        node.cached = True
        node.phase, node.message = SUCCEEDED, "outputs complete from a previous run (resumed)"
        node.finished = time.time()
        self._emit(node, "finished")
        return True


def _publish(src: Path, dest: Path) -> None:
    """Put a finished output in place atomically: hard-link it beside the destination, then rename.

    Linking (not moving) lets two output artifacts share one path (a file that goes both to the
    results and to the report's metrics); the work directory is removed afterwards anyway.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = dest.with_name(f".{dest.name}.staging-{os.getpid()}-{threading.get_ident()}")
    _remove(stage)
    try:
        if src.is_dir():
            shutil.copytree(src, stage, symlinks=False, copy_function=_link_or_copy)
        else:
            _link_or_copy(str(src), str(stage))
        if dest.is_dir() and not dest.is_symlink():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}-{threading.get_ident()}")
            os.rename(dest, old)
            os.rename(stage, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, dest)
    finally:
        _remove(stage)


def _size_limit(volume: Mapping[str, Any]) -> str | None:
    limit = (volume.get("emptyDir") or {}).get("sizeLimit")
    return None if limit is None else str(limit)


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(os.path.realpath(src), dst)
    except OSError:  # another file system, or links not allowed: copy
        shutil.copy2(src, dst)
    return dst


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _item_label(item: Any) -> str:
    if isinstance(item, Mapping):
        for k in ("sample", "id", "name"):
            if isinstance(item.get(k), str):
                return item[k]
        return _string(item)
    return _string(item)


def _item_values(item: Any) -> dict[str, str]:
    values = {"item": _string(item)}
    if isinstance(item, Mapping):
        for k, v in item.items():
            values[f"item.{k}"] = _string(v)
    return values


def _task_values(states: Mapping[str, Node]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, node in states.items():
        values[f"tasks.{name}.status"] = node.phase
        for k, v in node.parameters.items():
            values[f"tasks.{name}.outputs.parameters.{k}"] = v
        if node.phase in (SKIPPED, OMITTED, FAILED, ERROR):
            # A task that did not succeed has empty outputs (Argo substitutes "").
            values[f"tasks.{name}.outputs.parameters.*"] = ""
    return values


def _result(node: Node, result: str) -> bool:
    phase = node.phase
    if result == "Succeeded":
        return phase == SUCCEEDED
    if result == "Failed":
        return phase == FAILED
    if result == "Errored":
        return phase == ERROR
    if result == "Skipped":
        return phase == SKIPPED
    if result == "Omitted":
        return phase == OMITTED
    if result == "Daemoned":
        return False
    if result == "Completed":
        return phase in (SUCCEEDED, FAILED)
    if result == "AnySucceeded":
        kids = node.children if node.kind == "TaskGroup" else [node]
        return any(c.phase == SUCCEEDED for c in kids)
    if result == "AllFailed":
        kids = node.children if node.kind == "TaskGroup" else [node]
        return bool(kids) and all(c.phase in (FAILED, ERROR) for c in kids)
    raise TemplateError(f"unknown task result {result!r}")


def _continues(task: Mapping[str, Any], phase: str) -> bool:
    cont = task.get("continueOn") or {}
    return bool((phase == FAILED and cont.get("failed")) or (phase == ERROR and cont.get("error")))


def first_failure(node: Node) -> str:
    """The innermost failed node's message: the useful 'why' of a failed DAG."""
    if node.phase in (FAILED, ERROR) and node.kind == "Pod":
        return f"{node.task}: {node.message}"
    for child in node.children:
        if child.phase in (FAILED, ERROR):
            return first_failure(child)
    return node.message or node.phase.lower()


def substitute(value: Any, values: Mapping[str, str], *, strict: bool, where: str) -> Any:
    """Replace ``{{name}}`` tags in every string of ``value``.

    ``strict``: an unknown tag is a :class:`TemplateError` (leaf templates, task fields);
    otherwise it is left for a later, narrower scope (a DAG template's task fields).
    Expression tags (``{{=...}}``) are not supported locally.
    """
    if isinstance(value, str):
        if "{{" not in value:
            return value

        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if name.startswith("="):
                raise TemplateError(f"{where}: expression tag {{{{{name}}}}} is not supported locally")
            if name in values:
                return values[name]
            wildcard = re.sub(r"^(tasks\.[^.]+\.outputs\.parameters)\..+$", r"\1.*", name)
            if wildcard != name and wildcard in values:
                return values[wildcard]
            if strict:
                raise TemplateError(f"{where}: unresolved {{{{{name}}}}}")
            return m.group(0)

        return _TAG.sub(repl, value)
    if isinstance(value, Mapping):
        return {k: substitute(v, values, strict=strict, where=where) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, values, strict=strict, where=where) for v in value]
    return value


def walk(nodes: Iterable[Node]) -> Iterable[Node]:
    """Every node under ``nodes``, depth first."""
    for n in nodes:
        yield n
        yield from walk(n.children)
