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
  CPU and memory budgets, as the Kubernetes scheduler places pods by their requests; with
  ``idle_cores`` (a run that has the whole machine), a task may also start on cores the running
  tasks leave idle (:mod:`workflows.local.idle`), never beyond the memory budget, and a task
  with at most 1.5 times a finished sibling's input books what that sibling used
  (:mod:`workflows.local.usage`);
* each process runs in its own process group; a process killed by SIGKILL/SIGTERM is reported
  as Argo reports a deleted pod (status ``Error``, message ``pod deleted``), a non-zero exit as
  ``Failed`` with ``Error (exit code N)``;
* output artifacts are published only after the process exited 0 and every declared output
  exists (stage, then atomic rename), like Argo's wait container, so a partial file never
  reaches its final location;
* the pod itself (uids of the init, wait and main containers as root, Argo's staging modes,
  the emptyDir ``sizeLimit``) is emulated by :mod:`workflows.local.pod`.

This module keeps the run, its cancellation and the attempt loop; the rest is split by concern
as Argo splits its controller: :mod:`~workflows.local.nodes` (nodes, attempts, phases),
:mod:`~workflows.local.values` (variables and substitution), :mod:`~workflows.local.templates`
(scopes and ``templateRef``), :mod:`~workflows.local.dag` (the DAG run: ``expand_task``,
``execute_dag_task``), :mod:`~workflows.local.retry` (retry plans), :mod:`~workflows.local.podplan`
(what a pod is, before it starts), :mod:`~workflows.local.launch` (processes, their CPU time and
cancellation), :mod:`~workflows.local.artifacts` (stage in, collect, publish),
:mod:`~workflows.local.resume` (fingerprints), :mod:`~workflows.local.budget` (cores, memory,
mutexes) and :mod:`~workflows.local.record` (run.json).
"""

from __future__ import annotations

import math
import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from workflows.local.artifacts import collect_outputs, file_sizes, stage_inputs
from workflows.local.budget import Mutexes, ResourceBudget
from workflows.local.dag import DagRun
from workflows.local.idle import IdleCores
from workflows.local.launch import Fault, Processes
from workflows.local.nodes import (
    DEADLINE_MESSAGE,
    ERROR,
    FAILED,
    PENDING,
    POD_DELETED,
    RUNNING,
    SUCCEEDED,
    Attempt,
    Listener,
    Node,
    RunAbortedError,
    TemplateError,
    UnsupportedWorkflowError,
    safe_name,
)
from workflows.local.pod import PodEmulation, PodError, output_paths
from workflows.local.podplan import Machine, PodPlan, plan_pod
from workflows.local.record import EarlierTask
from workflows.local.resume import reuse
from workflows.local.schema import check_supported
from workflows.local.templates import Invocation, Scope, Templates, bind_inputs
from workflows.local.toollog import first_error
from workflows.local.usage import Usage, UsageHistory
from workflows.local.values import string_value
from workflows.local.warm import WarmStarts, preload


class Executor:
    """Interpret rendered Workflow objects; see the module docstring."""

    def __init__(
        self,
        objects: Sequence[Mapping[str, Any]],
        *,
        cpus: float,
        state_dir: Path,
        memory_mib: float | None = None,
        listeners: Sequence[Listener] = (),
        faults: Sequence[Fault] = (),
        previous: Mapping[str, Mapping[str, Any]] | None = None,
        terminate_grace: float = 5.0,
        env: Mapping[str, str] | None = None,
        pods: PodEmulation | None = None,
        idle_cores: bool = False,
        decompressed: Mapping[str, Path] | None = None,
    ) -> None:
        problems = [p for obj in objects for p in check_supported(obj)]
        if problems:
            raise UnsupportedWorkflowError(
                "the local executor does not support:\n  " + "\n  ".join(problems[:50])
            )
        self.objects = list(objects)
        self.cpus = float(cpus)
        self.state_dir = state_dir
        #: Told of every node event, in order (the progress display, the run.json checkpoint).
        self.listeners = list(listeners)
        self.faults = list(faults)
        #: ``--resume``: the earlier run's tasks (run.json entries) by resume key.
        self.previous = {key: EarlierTask.read(entry) for key, entry in (previous or {}).items()}
        self.env = dict(os.environ if env is None else env)
        #: How pods are emulated (identities as root, volumes, sizeLimit): workflows.local.pod.
        self.pods = pods or PodEmulation()
        #: Gzipped inputs (by real path) -> the plain copy the input check kept; staged instead
        #: (workflows.local.fastq.PlainCopies).
        self.decompressed = {os.path.realpath(k): v for k, v in (decompressed or {}).items()}
        self.cancelled = threading.Event()
        self.fatal: BaseException | None = None
        self.memory_mib = math.inf if memory_mib is None else float(memory_mib)
        self.budget = ResourceBudget(self.cpus, self.memory_mib)
        #: Python steps whose slow imports are done before they are ready (the report's MultiQC).
        self.warm = WarmStarts()
        #: Reads the machine's idle cores for the budget (None: tasks book their requests only).
        self.idle_cores = IdleCores(self.budget.observe) if idle_cores else None
        #: What finished tasks used, so their siblings on about as much input book that (with
        #: ``idle_cores`` only: a run that has the whole machine; None: requests only).
        self.usage = UsageHistory() if idle_cores else None
        self.mutexes = Mutexes()
        self.processes = Processes(self.cancelled, terminate_grace)
        self.machine = Machine(self.cpus, self.memory_mib, state_dir, self.env, self.pods)
        self.templates = Templates(self.objects)
        self.nodes: list[Node] = []
        self.roots: list[Node] = []
        self._lock = threading.Lock()
        self._stopping = False
        self.workflows = [o for o in objects if o.get("kind") == "Workflow"]

    # ----------------------------------------------------------------------------------- running

    def run(self) -> list[Node]:
        """Run every Workflow (concurrently, sharing the resource budget); return their root nodes.

        Blocks until done. A KeyboardInterrupt in the calling thread cancels the run: running
        processes get SIGTERM, then SIGKILL after ``terminate_grace`` seconds; it is re-raised
        once every process is gone.
        """
        threads = []
        done: list[threading.Event] = []
        scopes: list[Scope] = []
        for index, wf in enumerate(self.workflows):
            scope = self.templates.workflow_scope(wf, index)
            scopes.append(scope)
            root = Node(key=scope.workflow_name, task=scope.workflow_name, template="", kind="DAG")
            self.roots.append(root)
            finished = threading.Event()
            done.append(finished)
            t = threading.Thread(target=self._run_workflow, args=(scope, root, finished), daemon=True)
            threads.append(t)
        if self.idle_cores is not None and not self.idle_cores.start():
            self.idle_cores = None  # no /proc/stat: requests only
        try:
            if scopes:
                self._warm_up(scopes[0])
            return self._wait(threads, done)
        finally:
            self.warm.close()
            if self.idle_cores is not None:
                self.idle_cores.stop()

    def _warm_up(self, scope: Scope) -> None:
        """A warm process for each Script template that lists modules to preload, as its pod
        would start it (identity and environment from the first workflow's scope)."""
        templates = dict(scope.templates)
        for wft in self.templates.wftemplates.values():
            for t in (wft.get("spec") or {}).get("templates", []):
                templates.setdefault(t["name"], t)
        for name, tmpl in templates.items():
            body = tmpl.get("script") or {}
            command = body.get("command") or []
            modules = preload(string_value(body.get("source", "")))
            if len(command) != 1 or not modules:
                continue
            where = f"template {name} (warm start)"
            key = f"warm.{name}"
            try:
                pod = self.pods.pod(
                    key,
                    safe_name(key),
                    self.state_dir,
                    tmpl.get("securityContext") or scope.pod_security,
                    body.get("securityContext"),
                    where,
                )
            except (PodError, OSError):
                continue  # its pod cannot start either: the attempt says why
            env = {**self.env, **pod.environment(self.env)}
            self.warm.prepare(name, string_value(command[0]), modules, env, pod.popen())

    def _wait(self, threads: list[threading.Thread], done: list[threading.Event]) -> list[Node]:
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

    def abort(self, exc: BaseException) -> None:
        """A failure outside any task (a listener, a worker thread): stop starting tasks at
        once; :meth:`run` stops the running ones and raises :class:`RunAbortedError`."""
        with self._lock:
            if self.fatal is None:
                self.fatal = exc
        self.cancelled.set()
        self.budget.wake()

    def cancel(self) -> None:
        """Stop starting tasks; SIGTERM every running process group, SIGKILL the survivors."""
        self.cancelled.set()
        self.processes.stop_all()
        self.budget.wake()

    def _run_workflow(self, scope: Scope, root: Node, finished: threading.Event) -> None:
        entry = scope.entrypoint
        root.started = time.time()
        root.phase = RUNNING
        try:
            if not entry or entry not in scope.templates:
                raise TemplateError(f"entrypoint {entry!r} is not a template")
            root.template = entry
            self.execute_template(scope, scope.templates[entry], {}, {}, root)
        except TemplateError as exc:
            root.phase, root.message = ERROR, str(exc)
        except Exception as exc:  # a bug must fail the run visibly, never hang it
            root.phase, root.message = ERROR, f"internal error: {exc!r}"
        finally:
            root.finished = time.time()
            try:
                self.emit(root, "finished")
            finally:
                finished.set()

    def emit(self, node: Node, what: str) -> None:
        """Tell every listener; one that fails aborts the run (e.g. run.json cannot be written)."""
        for listener in self.listeners:
            try:
                listener.event(node, what)
            except Exception as exc:
                self.abort(exc)
                return

    def guarded(self, node: Node, run: Callable[[], None]) -> None:
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
        self.emit(node, "finished")

    def new_node(self, key: str, task: str, template: str, kind: str, sample: str | None) -> Node:
        """A node of the run (recorded in :attr:`nodes`, which run.json lists)."""
        node = Node(key=key, task=task, template=template, kind=kind, sample=sample)
        with self._lock:
            self.nodes.append(node)
        return node

    # ------------------------------------------------------------------------------- templates

    def execute_template(
        self,
        scope: Scope,
        tmpl: Mapping[str, Any],
        params: Mapping[str, str],
        artifacts: Mapping[str, str],
        node: Node,
    ) -> None:
        """Argo's ``executeTemplate``: bind the inputs, then run a DAG or a container/script;
        sets ``node``'s phase and outputs."""
        call = Invocation(scope, tmpl, bind_inputs(tmpl, params), artifacts, node)
        if "dag" in tmpl:
            DagRun(self, call).run()
        else:
            self.execute_container(call)

    def execute_container(self, call: Invocation) -> None:
        """Argo's ``executeContainer`` and the retry node around it: plan the pod, reuse an
        earlier success (``--resume``), else run attempts (booked on the resource budget and
        the template's mutexes) until one succeeds or the retry plan says stop."""
        node, scope = call.node, call.scope
        node.kind = "Pod"
        plan = plan_pod(self.machine, call)
        node.fingerprint = plan.fingerprint
        if reuse(node, self.previous.get(node.resume_key), plan.resolved):
            plan.pod.remove()
            self.emit(node, "finished")
            return
        locks = self.mutexes.locks(plan.synchronization)
        retry = plan.retry
        # Siblings: the same template with the same requests (chunks of a sheet share them).
        usage_key = f"{call.template['name']} ({plan.cpu:g} cores, {plan.memory_mib:g} MiB)"
        input_bytes = _input_bytes(plan) if self.usage is not None else 0
        # What it books is asked again while it waits: a sibling may finish meanwhile.
        usage, request = self.usage, (plan.cpu, plan.memory_mib)
        resize = None if usage is None else lambda: usage.booking(usage_key, input_bytes, *request)
        node.phase = PENDING
        self.emit(node, "pending")
        first_start: float | None = None
        for number in range(1, retry.attempts + 1):
            if number > 1:
                delay = retry.backoff(number, first_start or time.time())
                if delay is None:
                    node.message = f"{node.message} (retry backoff maxDuration exceeded)"
                    break
                if self.cancelled.wait(delay):
                    break
            for lk in locks:
                lk.acquire()
            try:
                booked = self.budget.book(plan.cpu, self.cancelled, plan.memory_mib, resize)
                if booked is None:
                    break
                try:
                    deadline = retry.attempt_deadline(plan.deadline_seconds, first_start)
                    attempt = self._attempt(node, number, plan, deadline, scope, booked)
                finally:
                    self.budget.release(*booked)
                if usage is not None and attempt.status == SUCCEEDED and attempt.cpu_seconds is not None:
                    usage.add(usage_key, Usage(input_bytes, attempt.cores, attempt.peak_mib or 0.0))
                    self.budget.wake()  # waiting siblings may now book less
            finally:
                for lk in reversed(locks):
                    lk.release()
            first_start = first_start or attempt.started
            node.phase, node.message = attempt.status, attempt.message
            if attempt.status == SUCCEEDED or self.cancelled.is_set():
                break
            if not retry.should_retry(attempt, number):
                break
            self.emit(node, "retrying")
        if self.cancelled.is_set() and node.phase != SUCCEEDED:
            node.phase, node.message = ERROR, "interrupted"
        plan.pod.remove()  # no attempt follows: its staged script is not needed again
        node.finished = time.time()
        self.emit(node, "finished")

    def _attempt(
        self,
        node: Node,
        number: int,
        plan: PodPlan,
        deadline_s: float | None,
        scope: Scope,
        booked: tuple[float, float],
    ) -> Attempt:
        """One attempt: stage the inputs, run the process to its end, collect the outputs."""
        logs = self.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"{safe_name(node.key)}.{number}.log"
        attempt = Attempt(number, time.time(), command=plan.command, log=str(log), booked=booked)
        node.attempts.append(attempt)
        node.phase = RUNNING
        self.emit(node, "started")
        workdir, pod, where = plan.workdir, plan.pod, plan.where
        shutil.rmtree(workdir, ignore_errors=True)
        for target in plan.mounts.values():
            target.mkdir(parents=True, exist_ok=True)
        plan.cwd.mkdir(parents=True, exist_ok=True)
        try:
            pod.prepare()
            stage_inputs(plan.inputs, plan.local_path, where, pod, self.decompressed)
        except (TemplateError, PodError) as exc:  # Argo: the init container failed, node Error
            return _end(attempt, ERROR, str(exc), None, workdir)
        fault = next((f for f in self.faults if f.matches(node, number)), None)
        deadline = None if deadline_s is None else time.monotonic() + float(deadline_s)
        if scope.deadline is not None:
            deadline = scope.deadline if deadline is None else min(deadline, scope.deadline)
        warm = self.warm.start(node.template, plan.command, plan.cwd, plan.env, log, pod.popen())
        if warm is not None:
            proc, attempt.warm_cpu_seconds = warm
            self.processes.adopt(proc)
        else:
            try:
                proc = self.processes.launch(plan.command, plan.cwd, plan.env, log, pod.popen())
            except OSError as exc:
                message = f"cannot start {plan.command[0]!r}: {exc.strerror}"
                return _end(attempt, FAILED, message, 127, workdir)
        size_watch = pod.watch(proc.pid, self.pods.size_poll)
        try:
            kill_at = None if fault is None else time.monotonic() + fault.after
            ended = self.processes.wait(proc, deadline, kill_at)
        finally:
            evicted = size_watch.stop()
        attempt.cpu_seconds, attempt.peak_mib = ended.cpu_seconds, ended.peak_mib
        attempt.ran_seconds = ended.seconds
        rc = ended.returncode
        if evicted:  # the kubelet evicted the pod: Argo's node is Failed with the pod's message
            return _end(attempt, FAILED, evicted, rc, workdir)
        if ended.deadline_exceeded:
            return _end(attempt, FAILED, DEADLINE_MESSAGE, rc, workdir)
        if self.cancelled.is_set() and rc != 0:
            return _end(attempt, ERROR, "interrupted", rc, workdir)
        if rc < 0:
            # A process killed from outside is what a deleted (preempted) pod looks like in Argo.
            return _end(attempt, ERROR, POD_DELETED, 128 - rc, workdir)
        if rc != 0:
            cause = first_error(log)  # the tool's own first error line, not the last symptom
            return _end(
                attempt, FAILED, f"Error (exit code {rc})" + (f": {cause}" if cause else ""), rc, workdir
            )
        try:
            pod.stage_out(output_paths(plan.resolved, plan.local_path), where)
            default_repo = self.state_dir / "artifacts" / safe_name(node.key)
            collect_outputs(node, plan.resolved, plan.local_path, where, default_repo)
        except (TemplateError, PodError) as exc:
            return _end(attempt, ERROR, str(exc), rc, workdir)
        return _end(attempt, SUCCEEDED, "", rc, workdir)


def _input_bytes(plan: PodPlan) -> int:
    """Bytes in a task's input artifacts (what :class:`UsageHistory` compares siblings by)."""
    return sum(size for _, src in plan.inputs if src for _, size in file_sizes(Path(src)))


def _end(attempt: Attempt, status: str, message: str, code: int | None, workdir: Path) -> Attempt:
    attempt.status, attempt.message, attempt.exit_code = status, message, code
    attempt.finished = time.time()
    # Nothing of a task's work directory survives it: outputs were moved out on success, and
    # a failed attempt's partial files must never be mistaken for results.
    shutil.rmtree(workdir, ignore_errors=True)
    return attempt
