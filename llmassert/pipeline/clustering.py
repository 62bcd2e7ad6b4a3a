"""Clustering of embedded rows: k-means representatives and the agglomerative tree.

Used by reduce's ``value_sampling: {method: cluster}`` and by the ``cluster`` operator.  SciPy
does the numerical work (DocETL uses scikit-learn; SciPy's Ward linkage builds the same tree as
scikit-learn's ``AgglomerativeClustering``); it is imported on first use because it costs
about a second of start-up that pipelines without these keys should not pay — and so is numpy
(~0.15 s: this module is imported with the reduce and cluster operators, whether or not a
pipeline's reduce samples by cluster).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmassert.pipeline.types import Row

EMBED_CHARS = 1000  # DocETL embeds at most this many characters of a row's keys


def embedding_text(row: Row, keys: Sequence[str] | None) -> str:
    """The text embedded for a row: its ``keys`` values (default: all keys), space-joined."""
    chosen = list(keys) if keys else list(row)
    parts = [str(row[k]) for k in chosen if row.get(k) is not None]
    return " ".join(parts)[:EMBED_CHARS] or " "


def kmeans_representatives(vectors: Sequence[Sequence[float]], k: int, seed: int) -> list[int]:
    """Indices of one row per k-means cluster (the one nearest its centroid), in input order."""
    import numpy as np
    from scipy.cluster.vq import kmeans2

    data = np.asarray(vectors, dtype=float)
    if k >= len(data):
        return list(range(len(data)))
    centroids, labels = kmeans2(data, k, seed=seed, minit="++")
    chosen: list[int] = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        if members.size == 0:
            continue
        dist = np.linalg.norm(data[members] - centroids[c], axis=1)
        chosen.append(int(members[int(np.argmin(dist))]))
    # An empty cluster leaves a slot: fill it with the rows farthest from every chosen one.
    rest = [i for i in range(len(data)) if i not in set(chosen)]
    while len(chosen) < k and rest:
        far = max(rest, key=lambda i: float(np.min(np.linalg.norm(data[chosen] - data[i], axis=1))))
        chosen.append(far)
        rest.remove(far)
    return sorted(chosen)


def ward_tree(vectors: Sequence[Sequence[float]]) -> list[tuple[int, int, float]]:
    """The agglomerative (Ward) merge list: row ``n + j`` is merge ``j`` of two nodes."""
    import numpy as np
    from scipy.cluster.hierarchy import linkage

    z: Any = linkage(np.asarray(vectors, dtype=float), method="ward")
    return [(int(a), int(b), float(d)) for a, b, d, _ in z]
