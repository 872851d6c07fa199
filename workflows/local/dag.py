"""The DAG run: one DAG template's tasks expanded, started when their ``depends`` are
decided, fanned out over ``withItems``/``withParam``, and the DAG's phase and outputs derived
from its leaves, as Argo's ``workflow/controller/dag.go`` (``executeDAG``, ``expandTask``,
``executeDAGTask``) does."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from workflows.local import expr
from workflows.local.nodes import (
    DONE_PHASES,
    ERROR,
    FAILED,
    OMITTED,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    Node,
    TemplateError,
    first_failure,
)
from workflows.local.templates import Invocation
from workflows.local.values import (
    input_values,
    item_label,
    item_values,
    string_value,
    substitute,
    task_values,
)

if TYPE_CHECKING:
    from workflows.local.executor import Executor

_FROM = re.compile(r"^\{\{\s*tasks\.([A-Za-z0-9_-]+)\.outputs\.artifacts\.([A-Za-z0-9_-]+)\s*\}\}$")


class DagRun:
    """One run of a DAG template into its node: :meth:`run` blocks until every task is done."""

    def __init__(self, executor: Executor, call: Invocation) -> None:
        self.ex = executor
        self.scope = call.scope
        self.tmpl = tmpl = call.template
        self.node = call.node
        self.values = self.scope.values()
        self.values.update(input_values(call.inputs))
        dag = substitute(tmpl["dag"], self.values, strict=False, where=f"template {tmpl['name']}")
        self.tasks: dict[str, Mapping[str, Any]] = {t["name"]: t for t in dag["tasks"]}
        self.fail_fast = dag.get("failFast", True) is not False
        self.trees = {name: self._depends(name, t) for name, t in self.tasks.items()}
        self.referenced = {
            op.split(".")[0]: op for tree in self.trees.values() if tree for op in expr.depends_operands(tree)
        }
        self.states: dict[str, Node] = {}
        """Every task node created so far (running or done), by task name."""
        self.done: dict[str, Node] = {}
        self._finished: deque[str] = deque()
        self._cond = threading.Condition()
        self._tripped = False

    def _depends(self, name: str, task: Mapping[str, Any]) -> expr.Expr | None:
        if "depends" in task and "dependencies" in task:
            raise TemplateError(f"task {name}: use depends or dependencies, not both")
        text = task.get("depends") or " && ".join(task.get("dependencies") or [])
        try:
            tree = expr.parse_depends(text) if text else None
        except expr.ExprError as exc:
            raise TemplateError(f"task {name}: {exc}") from None
        for operand in expr.depends_operands(tree) if tree else []:
            if operand.split(".")[0] not in self.tasks:
                raise TemplateError(f"task {name}: depends on unknown task {operand.split('.')[0]!r}")
        return tree

    # ------------------------------------------------------------------------------ scheduling

    def run(self) -> None:
        """Run every task; set the DAG node's phase, message, children and outputs."""
        node = self.node
        node.kind = "DAG"
        node.phase, node.started = RUNNING, node.started or time.time()
        waiting = dict(self.tasks)
        running = 0
        while waiting or running:
            running += self._start_ready(waiting)
            if not running:
                if waiting:  # only happens with a dependency cycle
                    raise TemplateError(
                        f"template {self.tmpl['name']}: dependency cycle among {sorted(waiting)}"
                    )
                break
            with self._cond:
                while not self._finished:
                    self._cond.wait(0.5)
                name = self._finished.popleft()
            running -= 1
            self._settle(name)
        self._conclude()

    def _start_ready(self, waiting: dict[str, Mapping[str, Any]]) -> int:
        """Start (or omit) every waiting task whose dependencies are done; how many started."""
        started = 0
        scan = True
        while scan:  # omitting a task can unblock others at once
            scan = False
            for name in list(waiting):
                tree = self.trees[name]
                deps = expr.depends_operands(tree) if tree else []
                if any(d.split(".")[0] not in self.done for d in deps):
                    continue
                del waiting[name]
                child = self.ex.new_node(f"{self.node.key}/{name}", name, "", "Pod", self.node.sample)
                self.states[name] = child
                ok = tree is None or expr.eval_depends(tree, lambda t, r: _result(self.done[t], r), name)
                if not ok or self.ex.cancelled.is_set() or (self.fail_fast and self._tripped):
                    child.phase = OMITTED
                    child.message = "depends not met" if ok is False else "run stopped"
                    child.started = child.finished = time.time()
                    self.done[name] = child
                    self.ex.emit(child, "finished")
                    scan = True
                    continue
                started += 1
                threading.Thread(target=self._worker, args=(name, child), daemon=True).start()
        return started

    def _worker(self, name: str, child: Node) -> None:
        try:
            self.ex.guarded(child, lambda: self.expand_task(self.tasks[name], child))
        except BaseException as exc:  # never leave the DAG waiting for a thread that died
            child.phase, child.message = ERROR, f"internal error: {exc!r}"
            self.ex.abort(exc)
        finally:
            with self._cond:
                self._finished.append(name)
                self._cond.notify_all()

    def _settle(self, name: str) -> None:
        """A task ended: does its failure trip failFast?"""
        child = self.states[name]
        self.done[name] = child
        failed = child.phase in (FAILED, ERROR) and not _continues(self.tasks[name], child.phase)
        if failed and name not in self.referenced:
            self._tripped = True
        elif failed:
            # A plain dependency cannot handle a failure; `depends: x.Failed` can.
            self._tripped = self._tripped or "." not in self.referenced[name]

    def _conclude(self) -> None:
        """Argo's rule: the DAG's phase is that of its leaf tasks; an omitted leaf inherits the
        worst phase of the branch that led to it, so a failure before an omitted task counts."""
        node = self.node
        branch: dict[str, str] = {}

        def branch_phase(name: str) -> str:
            if name in branch:
                return branch[name]
            phase = self.done[name].phase
            tree = self.trees[name]
            if phase == OMITTED and tree is not None:
                parents = {op.split(".")[0] for op in expr.depends_operands(tree)}
                bad = [p for p in (branch_phase(p) for p in parents) if p in (FAILED, ERROR)]
                phase = bad[0] if bad else OMITTED
            branch[name] = phase
            return phase

        leaves = [n for n in self.tasks if n not in self.referenced]
        failures = [
            (name, branch_phase(name))
            for name in leaves
            if branch_phase(name) in (FAILED, ERROR) and not _continues(self.tasks[name], branch_phase(name))
        ]
        if self.ex.cancelled.is_set():
            node.phase, node.message = ERROR, "interrupted"
        elif failures:
            name, phase = failures[0]
            node.phase = FAILED
            node.message = f"task {name!r} {phase.lower()}: {first_failure(self.done[name])}"
        else:
            node.phase = SUCCEEDED
        node.children = [self.done[n] for n in self.tasks if n in self.done]
        # DAG outputs: parameters taken from its tasks.
        scope_values = dict(self.values)
        scope_values.update(task_values(self.done))
        for p in (self.tmpl.get("outputs") or {}).get("parameters", []):
            source = (p.get("valueFrom") or {}).get("parameter", p.get("value"))
            if source is not None and node.phase == SUCCEEDED:
                node.parameters[p["name"]] = substitute(
                    string_value(source),
                    scope_values,
                    strict=True,
                    where=f"template {self.tmpl['name']} outputs",
                )
        node.finished = time.time()

    # ------------------------------------------------------------------------------ one task

    def expand_task(self, task: Mapping[str, Any], node: Node) -> None:
        """Argo's ``expandTask``: a task without ``withItems``/``withParam`` runs once; with them
        it becomes a TaskGroup of one child per item, run in parallel, whose output parameters
        are JSON lists of the children's."""
        values = dict(self.values)
        values.update(task_values({n: s for n, s in self.states.items() if s.phase in DONE_PHASES}))
        where = f"task {node.display}"
        items = self._items(task, values, where)
        node.started = time.time()
        if items is None:
            self.execute_dag_task(task, node, values, where)
            return
        if not items:
            # One Skipped node, not a TaskGroup (argo-workflows v4.1.2 workflow/controller/dag.go,
            # executeDAGTask: an empty withParam list -> NodeTypeSkipped "Skipped, empty params"):
            # a QC-failed sample's empty align-lanes. A leaf, so run.json records it.
            node.template = str(task.get("template") or (task.get("templateRef") or {}).get("template"))
            node.phase, node.message = SKIPPED, "Skipped, empty params"
            node.finished = time.time()
            self.ex.emit(node, "finished")
            return
        node.kind = "TaskGroup"
        node.phase = RUNNING
        node.template = str(task.get("template") or (task.get("templateRef") or {}).get("template"))
        self.ex.emit(node, "started")
        children: list[Node] = []
        threads = []
        for i, item in enumerate(items):
            child = self.ex.new_node(f"{node.key}({i}:{item_label(item)})", node.task, "", "Pod", node.sample)
            if isinstance(item, Mapping) and isinstance(item.get("sample"), str):
                child.sample = item["sample"]
            child_values = {**values, **item_values(item)}
            children.append(child)

            def go(child: Node = child, child_values: dict[str, str] = child_values) -> None:
                self.ex.guarded(child, lambda: self.execute_dag_task(task, child, child_values, where))

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
        for k in {k for c in children for k in c.parameters}:
            node.parameters[k] = json.dumps([c.parameters.get(k, "") for c in children])
        node.finished = time.time()
        self.ex.emit(node, "finished")

    @staticmethod
    def _items(task: Mapping[str, Any], values: Mapping[str, str], where: str) -> list[Any] | None:
        if "withItems" in task:
            return list(task["withItems"])
        if "withParam" not in task:
            return None
        raw = substitute(string_value(task["withParam"]), values, strict=True, where=where)
        try:
            items = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TemplateError(f"{where}: withParam is not a JSON list ({exc.msg})") from None
        if not isinstance(items, list):
            raise TemplateError(f"{where}: withParam is not a JSON list")
        return items

    def execute_dag_task(
        self, task: Mapping[str, Any], node: Node, values: Mapping[str, str], where: str
    ) -> None:
        """Argo's ``executeDAGTask``: resolve the task's arguments (parameters, artifacts from
        other tasks) and its template, decide ``when``, then execute the template."""
        node.started = node.started or time.time()
        args = substitute(task.get("arguments") or {}, values, strict=True, where=where)
        params = {p["name"]: string_value(p.get("value", "")) for p in args.get("parameters", [])}
        if node.sample is None and "sample" in params:
            node.sample = params["sample"]
        artifacts: dict[str, str] = {}
        for a in (task.get("arguments") or {}).get("artifacts", []):
            if "from" in a:
                m = _FROM.match(str(a["from"]))
                if not m or m.group(1) not in self.states:
                    raise TemplateError(f"{where}: artifact {a['name']}: cannot resolve from={a['from']!r}")
                source = self.states[m.group(1)].artifacts.get(m.group(2))
                if source is None:
                    raise TemplateError(f"{where}: task {m.group(1)} has no output artifact {m.group(2)!r}")
                artifacts[a["name"]] = source
            elif "plugin" in a:
                artifacts[a["name"]] = substitute(a["plugin"]["key"], values, strict=True, where=where)
        sub_scope, tmpl = self.ex.templates.resolve(self.scope, task)
        node.template = tmpl["name"]
        if "when" in task:
            condition = substitute(string_value(task["when"]), values, strict=True, where=f"{where} when")
            try:
                run = expr.eval_when(condition)
            except expr.ExprError as exc:
                raise TemplateError(f"{where}: {exc}") from None
            if not run:
                node.phase, node.message = SKIPPED, f"when {condition} is false"
                node.finished = time.time()
                self.ex.emit(node, "finished")
                return
        self.ex.execute_template(sub_scope, tmpl, params, artifacts, node)
        if node.kind == "DAG":
            self.ex.emit(node, "finished")


def _result(node: Node, result: str) -> bool:
    """Does ``node`` have ``result`` (``depends: task.Succeeded`` ...)?"""
    phase = node.phase
    simple = {
        "Succeeded": phase == SUCCEEDED,
        "Failed": phase == FAILED,
        "Errored": phase == ERROR,
        "Skipped": phase == SKIPPED,
        "Omitted": phase == OMITTED,
        "Daemoned": False,
        "Completed": phase in (SUCCEEDED, FAILED),
    }
    if result in simple:
        return simple[result]
    kids = node.children if node.kind == "TaskGroup" else [node]
    if result == "AnySucceeded":
        return any(c.phase == SUCCEEDED for c in kids)
    if result == "AllFailed":
        return bool(kids) and all(c.phase in (FAILED, ERROR) for c in kids)
    raise TemplateError(f"unknown task result {result!r}")


def _continues(task: Mapping[str, Any], phase: str) -> bool:
    cont = task.get("continueOn") or {}
    return bool((phase == FAILED and cont.get("failed")) or (phase == ERROR and cont.get("error")))
