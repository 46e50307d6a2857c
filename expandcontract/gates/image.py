"""Is a pod's schema stamp about the image it actually runs? (`expandcontract.io/schema-image`)

The stamp is an annotation, and annotations do not follow the image: `kubectl set image`, an image
updater or a hand-edited manifest can put a pre-expand image under a FINAL stamp. A build that binds
the stamp (`expandcontract heads --stamp --image REF`) also writes `expandcontract.io/schema-image`, the
image reference or digest the stamp was computed for. Every container running that repository must then
run exactly that image (tag, digest, or the digest the kubelet resolved, `status.containerStatuses[].imageID`);
otherwise the stamp is untrusted and the gate fails closed. Without the annotation the stamp alone
decides, as before. Pure functions of the pod or template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from expandcontract.phases.stamp import IMAGE_ANNOTATION

__all__ = ["IMAGE_ANNOTATION", "ImageRef", "image_problem", "parse_image"]

DEFAULT_DOMAIN = "docker.io"


@dataclass(frozen=True)
class ImageRef:
    repository: str  # registry/path, normalised (docker.io/library/nginx)
    tag: str | None
    digest: str | None  # sha256:...

    def __str__(self) -> str:
        return self.repository + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


def parse_image(text: str) -> ImageRef:
    """`nginx`, `registry:5000/shop/web:1.4`, `ghcr.io/a/b@sha256:...`, `sha256:...` (a bare digest).
    ValueError for what no container runtime would accept."""
    text = text.strip()
    for prefix in ("docker-pullable://", "docker://"):
        text = text.removeprefix(prefix)
    if not text or any(c.isspace() for c in text):
        raise ValueError(f"{text!r} is not an image reference")
    if text.startswith("sha256:"):
        return ImageRef("", None, _digest(text))
    name, _, digest = text.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not tag:
            raise ValueError(f"{text!r} has an empty tag")
    parts = name.split("/")
    if not all(parts):
        raise ValueError(f"{text!r} is not an image reference")
    if len(parts) == 1 or not ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = [DEFAULT_DOMAIN, *(["library"] if len(parts) == 1 else []), *parts]
    return ImageRef("/".join(parts).lower(), tag, _digest(digest) if digest else None)


def _digest(text: str) -> str:
    algo, _, hexpart = text.partition(":")
    if not algo or not hexpart or not hexpart.isalnum():
        raise ValueError(f"{text!r} is not an image digest")
    return f"{algo}:{hexpart.lower()}"


def _resolved_digests(pod: Mapping[str, Any]) -> dict[str, str]:
    """Container name -> the digest the kubelet pulled (pods only; templates have no status)."""
    out: dict[str, str] = {}
    status = pod.get("status") if isinstance(pod, Mapping) else None
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in (status or {}).get(key) or []:
            if not isinstance(cs, Mapping):
                continue
            image_id = str(cs.get("imageID") or "")
            if "@" in image_id:
                out[str(cs.get("name"))] = image_id.rpartition("@")[2].lower()
            elif image_id.startswith("sha256:"):
                out[str(cs.get("name"))] = image_id.lower()
    return out


def _runs(bound: ImageRef, image: ImageRef, resolved: str | None) -> bool:
    if bound.digest:
        return bound.digest in (image.digest, resolved)
    if image.tag is None and image.digest is not None:
        return False  # pinned by digest only: cannot show it is the bound tag
    return (image.tag or "latest") == (bound.tag or "latest")


def image_problem(
    bound: str | None, pod_spec: Mapping[str, Any] | None, pod: Mapping[str, Any] | None = None
) -> str | None:
    """None when the stamp may be trusted, else why not (one phrase, for a message)."""
    if bound is None:
        return None
    try:
        want = parse_image(bound)
    except ValueError as exc:
        return f"its {IMAGE_ANNOTATION} annotation is malformed ({exc})"
    containers = [
        c
        for key in ("initContainers", "containers")
        for c in ((pod_spec or {}).get(key) or [])
        if isinstance(c, Mapping)
    ]
    resolved = _resolved_digests(pod or {})
    checked = 0
    for container in containers:
        try:
            have = parse_image(str(container.get("image") or ""))
        except ValueError:
            continue
        if want.repository and have.repository != want.repository:
            continue
        seen = resolved.get(str(container.get("name")))
        if not want.repository and want.digest not in (have.digest, seen):
            continue  # a bare digest binds the container that runs it; others are sidecars
        checked += 1
        if not _runs(want, have, seen):
            return f"container {container.get('name')} runs {container.get('image')}, not {bound}"
    if checked == 0:
        return f"no container runs {bound}"
    return None
