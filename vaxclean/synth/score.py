"""Compare codes the pipeline produced with the ground truth: precision and recall per code."""

from __future__ import annotations

from collections.abc import Mapping, Set


def _ratio(num: int, den: int) -> float:
    # Nothing claimed (or nothing to find) is a perfect score, not an undefined one: a code that is
    # absent from both sides must not fail a threshold.
    return num / den if den else 1.0


def _scores(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "tp": tp, "fp": fp, "fn": fn, "support": tp + fn, "precision": precision, "recall": recall, "f1": f1,
    }  # fmt: skip


def score_codes(expected: Mapping[str, Set[str]], actual: Mapping[str, Set[str]]) -> dict:
    """Precision and recall of every code, over the keys (subject or record ids) of both sides.

    ``expected`` and ``actual`` map a key to its set of codes; a key missing on one side counts as
    an empty set there (a subject the pipeline dropped has found nothing). Returns::

        {"per_code": {code: {tp, fp, fn, support, precision, recall, f1}},
         "micro": {tp, fp, fn, support, precision, recall, f1},   # all codes pooled
         "exact_match": share of keys whose code sets are equal,
         "keys": number of keys, "missing_keys": in expected only, "extra_keys": in actual only}

    A precision (recall) with nothing predicted (nothing expected) is 1.0.
    """
    keys = set(expected) | set(actual)
    codes = set().union(*expected.values(), *actual.values()) if keys else set()
    counts = {code: [0, 0, 0] for code in codes}
    exact = 0
    for key in keys:
        want, got = set(expected.get(key, ())), set(actual.get(key, ()))
        exact += want == got
        for code in want & got:
            counts[code][0] += 1
        for code in got - want:
            counts[code][1] += 1
        for code in want - got:
            counts[code][2] += 1
    per_code = {code: _scores(*counts[code]) for code in sorted(codes)}
    micro = _scores(*(sum(c[i] for c in counts.values()) for i in range(3)))
    return {
        "per_code": per_code,
        "micro": micro,
        "exact_match": _ratio(exact, len(keys)),
        "keys": len(keys),
        "missing_keys": len(set(expected) - set(actual)),
        "extra_keys": len(set(actual) - set(expected)),
    }
