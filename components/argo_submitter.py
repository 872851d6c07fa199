"""The identity ``seqstack submit`` uses against the Argo server: a ServiceAccount and its token."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from workflows.k8s_names import name_problem

#: What submitting and following a run takes, and nothing else:
#: - workflows: create (submit), get/list/watch (status, the UI's list and live updates). No
#:   update/delete: the TTL removes finished workflows; stopping a run is an operator's action.
#: - workflowtemplates: get/list/watch (the server checks a Workflow's workflowTemplateRef with the
#:   caller's token) and create: ``seqstack submit`` with non-default sizes adds its own versioned
#:   template (name suffixed with a content hash). No update/delete: templates are immutable
#:   versions, and the one ``pulumi up`` installed cannot be rewritten by a submitter.
#: - pods and pods/log, read-only: the server fetches a step's logs with the caller's token.
#: No cronworkflows (the pipeline has none), no workfloweventbindings, no secrets.
SUBMITTER_RULES: tuple[k8s.rbac.v1.PolicyRuleArgs, ...] = (
    k8s.rbac.v1.PolicyRuleArgs(
        api_groups=["argoproj.io"], resources=["workflows"], verbs=["create", "get", "list", "watch"]
    ),
    k8s.rbac.v1.PolicyRuleArgs(
        api_groups=["argoproj.io"],
        resources=["workflowtemplates"],
        verbs=["create", "get", "list", "watch"],
    ),
    k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["pods"], verbs=["get", "list", "watch"]),
    k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["pods/log"], verbs=["get"]),
)


@dataclass(frozen=True)
class ArgoSubmitterArgs:
    """Where the submitter lives."""

    namespace: str = "biojobs"
    """The workflow namespace (the submitter's rights stop at its boundary)."""
    service_account: str = "seqstack-submitter"
    """ServiceAccount name."""
    depends_on: Sequence[pulumi.Resource] = ()
    """What must exist first (the namespace)."""

    def __post_init__(self) -> None:
        for label, value in (("namespace", self.namespace), ("service_account", self.service_account)):
            if name_problem(value):
                raise ValueError(f"ArgoSubmitterArgs.{label}: {value!r} is not a Kubernetes name")


class ArgoSubmitter(pulumi.ComponentResource):
    """A ServiceAccount with submit/read rights in the workflow namespace and a bearer token.

    The Argo server runs in client auth mode: ``seqstack submit`` sends this token and the server
    acts with exactly these rights. The token lives in a ``kubernetes.io/service-account-token``
    Secret that Kubernetes fills in; read it with ``kubectl -n biojobs get secret
    seqstack-submitter.service-account-token -o jsonpath='{.data.token}' | base64 -d``.
    It is not a stack output: the value only exists once the cluster minted it, and whoever can
    read Secrets in ``biojobs`` is who should be able to submit.
    """

    token_secret_name: str
    """Name of the token Secret."""
    service_account_name: str
    """Name of the ServiceAccount."""

    def __init__(
        self, name: str, args: ArgoSubmitterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("seqstack:k8s:ArgoSubmitter", name, None, opts)
        ns, sa_name = args.namespace, args.service_account
        self.service_account_name = sa_name
        self.token_secret_name = f"{sa_name}.service-account-token"
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))

        def meta(object_name: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=ns)

        sa = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=meta(sa_name),
            # It never runs pods; nothing should mount its token by accident.
            automount_service_account_token=False,
            opts=child,
        )
        role = k8s.rbac.v1.Role(
            f"{name}-role", metadata=meta(sa_name), rules=list(SUBMITTER_RULES), opts=child
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-binding",
            metadata=meta(sa_name),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="Role", name=sa_name
            ),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=sa_name, namespace=ns)],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, sa, role]),
        )
        # Since Kubernetes 1.24 no token Secret is created automatically; this one is long-lived
        # by design (a CLI needs a stable credential) and revoked by deleting the Secret.
        k8s.core.v1.Secret(
            f"{name}-token",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=self.token_secret_name,
                namespace=ns,
                annotations={"kubernetes.io/service-account.name": sa_name},
            ),
            type="kubernetes.io/service-account-token",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, sa]),
        )
        self.register_outputs({"serviceAccount": sa_name, "tokenSecret": self.token_secret_name})
