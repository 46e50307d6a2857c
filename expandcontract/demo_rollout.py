"""A simulated rolling Deployment for the demo: the objects `kubectl get deployment,replicaset,pod -o yaml`
would show while pods built with one schema stamp are replaced by pods built with another."""

from __future__ import annotations

from typing import Any

from expandcontract.phases.stamp import ANNOTATION

NS = "shop"
DEP_UID = "6f1c2a9e-0d5b-4c1e-9a57-2b8e4d0c7a11"


def _pod(name: str, rs: str, rs_uid: str, pod_hash: str, stamp: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": f"{rs_uid[:-4]}{name[-4:]}",
            "labels": {"app.kubernetes.io/name": "web", "pod-template-hash": pod_hash},
            "annotations": {ANNOTATION: stamp},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": rs,
                    "uid": rs_uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "web", "image": "registry.example.com/shop/web"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def _rs(name: str, uid: str, pod_hash: str, revision: int, stamp: str, replicas: int) -> dict[str, Any]:
    status: dict[str, Any] = {"observedGeneration": 2}
    if replicas:
        status.update(
            replicas=replicas, readyReplicas=replicas, availableReplicas=replicas, fullyLabeledReplicas=replicas
        )
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": uid,
            "generation": 2,
            "labels": {"app.kubernetes.io/name": "web", "pod-template-hash": pod_hash},
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "web",
                    "uid": DEP_UID,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "web", "pod-template-hash": pod_hash}},
            "template": {
                "metadata": {
                    "labels": {"app.kubernetes.io/name": "web", "pod-template-hash": pod_hash},
                    "annotations": {ANNOTATION: stamp},
                }
            },
        },
        "status": status,
    }


def rolling(old_stamp: str, new_stamp: str, *, new_ready: int, replicas: int = 3) -> list[dict[str, Any]]:
    """A Deployment `shop/web` with `new_ready` of `replicas` pods on the new template."""
    old_left = replicas - new_ready
    complete = old_left == 0
    dep: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": NS,
            "uid": DEP_UID,
            "generation": 7,
            "annotations": {"deployment.kubernetes.io/revision": "2"},
            "labels": {"app.kubernetes.io/name": "web"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
            "strategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "web"}, "annotations": {ANNOTATION: new_stamp}}
            },
        },
        "status": {
            "observedGeneration": 7,
            "replicas": old_left + new_ready,  # every pod it has, as the cross-check against the pods expects
            "updatedReplicas": new_ready,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                },
            ],
        },
    }
    old_uid, new_uid = "0b9d4c1e-7e2f-4f0a-8d3c-5a6b7c8d9e01", "1c0e5d2f-8f30-4a1b-9e4d-6b7c8d9e0f12"
    objs: list[dict[str, Any]] = [
        dep,
        _rs("web-5d8c7f9b4", old_uid, "5d8c7f9b4", 1, old_stamp, old_left),
        _rs("web-7b9f6c8d5", new_uid, "7b9f6c8d5", 2, new_stamp, new_ready),
    ]
    objs += [_pod(f"web-5d8c7f9b4-{i:04d}", "web-5d8c7f9b4", old_uid, "5d8c7f9b4", old_stamp) for i in range(old_left)]
    objs += [_pod(f"web-7b9f6c8d5-{i:04d}", "web-7b9f6c8d5", new_uid, "7b9f6c8d5", new_stamp) for i in range(new_ready)]
    return objs
