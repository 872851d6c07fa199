"""A stand-in Argo server on 127.0.0.1 for submission tests.

It behaves like the parts of the Argo server API seqstack uses: bearer-token check (401),
request bodies validated against the server's swagger create-request shape AND the strict
Workflow/WorkflowTemplate schema (400 with the first problem, as the real server's validation
does), ``workflowTemplateRef`` must name an existing template (400), duplicate template (409),
unknown object (404), ``generateName`` turned into a name, and a scripted phase sequence per
workflow (e.g. Pending, Pending, Running, Succeeded: one step per GET) with node statuses built
from the workflow's ``samples`` parameter.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests import argo_schema

WF_PATH = re.compile(r"^/api/v1/workflows/(?P<ns>[^/]+)(?:/(?P<name>[^/?]+))?(?:\?.*)?$")
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
WT_PATH = re.compile(r"^/api/v1/workflow-templates/(?P<ns>[^/]+)(?:/(?P<name>[^/?]+))?(?:\?.*)?$")


def _schema_problems(api_path: str, body: dict[str, Any], obj: dict[str, Any]) -> list[str]:
    """The real server's request validation: the create request's shape and the strict object schema."""
    return argo_schema.request_body_errors(api_path, "post", body) + argo_schema.errors(obj)


@dataclass
class FakeArgo:
    """State and script of the fake server (tests set the fields, then read ``requests``)."""

    token: str = "s3cr3t"
    phases: list[str] = field(default_factory=lambda: ["Pending", "Pending", "Running", "Succeeded"])
    outcomes: dict[str, str] = field(default_factory=dict)
    """sample -> aligned | qc_failed | failed (default aligned)."""
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    workflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    polls: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def start(self) -> FakeArgo:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    self._send(401, {"code": 16, "message": "token not valid"})
                    return False
                return True

            def do_GET(self) -> None:
                fake.requests.append(("GET", self.path))
                if not self._authorised():
                    return
                if m := WT_PATH.match(self.path):
                    wt = fake.templates.get(m["name"] or "")
                    self._send(200, wt) if wt else self._send(404, {"code": 5, "message": "not found"})
                elif m := WF_PATH.match(self.path):
                    name = m["name"] or ""
                    if name not in fake.workflows:
                        self._send(404, {"code": 5, "message": f'workflows.argoproj.io "{name}" not found'})
                        return
                    self._send(200, fake.advance(name))
                else:
                    self._send(404, {"code": 5, "message": "no such route"})

            def do_POST(self) -> None:
                fake.requests.append(("POST", self.path))
                if not self._authorised():
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                if m := WT_PATH.match(self.path):
                    problems = _schema_problems(
                        "/api/v1/workflow-templates/{namespace}", body, body.get("template", {})
                    )
                    if problems:
                        self._send(400, {"code": 3, "message": problems[0]})
                        return
                    wt = body["template"]
                    if wt["metadata"]["name"] in fake.templates:
                        self._send(409, {"code": 6, "message": "already exists"})
                        return
                    wt["metadata"] |= {"namespace": m["ns"], "uid": "u-1", "resourceVersion": "1"}
                    fake.templates[wt["metadata"]["name"]] = wt
                    self._send(200, wt)
                elif m := WF_PATH.match(self.path):
                    problems = _schema_problems(
                        "/api/v1/workflows/{namespace}", body, body.get("workflow", {})
                    )
                    generate = body.get("workflow", {}).get("metadata", {}).get("generateName", "")
                    if not DNS1123.match(generate + "x"):
                        problems.append(
                            f"metadata.generateName: Invalid value: {generate!r}: a lowercase RFC 1123"
                        )
                    ref = body.get("workflow", {}).get("spec", {}).get("workflowTemplateRef", {}).get("name")
                    if ref and ref not in fake.templates:
                        problems.append(f'workflowtemplates.argoproj.io "{ref}" not found')
                    if problems:
                        self._send(400, {"code": 3, "message": problems[0]})
                        return
                    wf = body["workflow"]
                    name = f"{wf['metadata'].get('generateName', 'wf-')}{len(fake.workflows):05d}"
                    wf["metadata"] |= {"name": name, "namespace": m["ns"], "uid": f"u-{name}"}
                    fake.workflows[name] = wf
                    fake.polls[name] = 0
                    self._send(200, wf)
                else:
                    self._send(404, {"code": 5, "message": "no such route"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def advance(self, name: str) -> dict[str, Any]:
        """The workflow as of this poll: one step further along the phase script."""
        i = min(self.polls[name], len(self.phases) - 1)
        self.polls[name] += 1
        phase = self.phases[i]
        wf = json.loads(json.dumps(self.workflows[name]))
        wf["status"] = {"phase": phase} if phase else {}
        if phase in ("Running", "Succeeded", "Failed"):
            wf["status"]["nodes"] = self._nodes(name, wf, final=phase != "Running")
        # What this fake says must be what Argo could say.
        problems = argo_schema.errors(wf)
        assert not problems, problems
        return wf

    def _nodes(self, name: str, wf: dict[str, Any], final: bool) -> dict[str, Any]:
        params = {p["name"]: p.get("value") for p in wf["spec"]["arguments"]["parameters"]}
        nodes: dict[str, Any] = {
            name: {"id": name, "name": name, "displayName": name, "type": "DAG", "templateName": "main"}
        }
        for i, item in enumerate(json.loads(params["samples"])):
            sample = item["sample"]
            outcome = self.outcomes.get(sample, "aligned")
            dag = f"{name}-{i}"
            dag_phase = "Running" if not final else ("Failed" if outcome == "failed" else "Succeeded")
            nodes[dag] = {
                "id": dag,
                "name": f"{name}.samples({i}:{sample})",
                "displayName": f"samples({i}:{sample})",
                "type": "DAG",
                "templateName": "sample",
                "phase": dag_phase,
                "boundaryID": name,
                "inputs": {"parameters": [{"name": "sample", "value": sample}]},
            }

            # fastqc, align and align-lane fan out over lanes: Argo shows each as a TaskGroup node
            # (displayName = the task) over its children.
            steps: list[tuple[str, str, dict[str, Any]]] = []
            if not final:
                steps.append(("fastqc", "Running", {}))
            else:
                verdict = "fail" if outcome == "qc_failed" else "pass"
                layout = "many" if outcome == "merged" else "one"
                gate = {"verdict": verdict, "layout": layout, "align-lanes": "[]"}
                steps += [
                    ("fastqc", "Succeeded", {}),
                    (
                        "qc-gate",
                        "Succeeded",
                        {"outputs": {"parameters": [{"name": k, "value": v} for k, v in gate.items()]}},
                    ),
                ]
                if outcome == "aligned":
                    steps.append(("align", "Succeeded", {}))
                elif outcome == "merged":
                    steps += [
                        ("align", "Skipped", {"message": "when 'many' == 'one' evaluated false"}),
                        ("align-lane", "Succeeded", {}),
                        ("merge", "Succeeded", {}),
                    ]
                elif outcome == "failed":
                    steps.append(("align", "Failed", {"message": "Error (exit code 1)"}))
                else:
                    steps.append(("align", "Skipped", {"message": "Skipped, empty params"}))
            for step, phase, extra in steps:
                nodes[f"{dag}-{step}"] = {
                    "id": f"{dag}-{step}",
                    "name": f"{name}.samples({i}:{sample}).{step}",
                    "displayName": step,
                    "type": "TaskGroup" if step in ("fastqc", "align", "align-lane") else "Retry",
                    "templateName": step,
                    "phase": phase,
                    "boundaryID": dag,
                    **extra,
                }
        return nodes
