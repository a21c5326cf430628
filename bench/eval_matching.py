"""Matching quality on the generated labelled set: `make eval-matching` prints the figures and targets."""

from __future__ import annotations

import sys
import time
from collections import Counter

from services.rules.matcher.evalset import queries, registry
from services.rules.matcher.index import RegistryIndex
from shared.contracts.rules import MatchDecision

TARGETS = {
    "auto-match precision": (0.995, ">="),
    "auto-match recall": (0.95, ">="),
    "recall including review": (0.99, ">="),
    "hard negatives auto-matched": (0.01, "<="),
    "review share of all records": (0.10, "<="),
}


def main(registry_size: int = 20_000, sample: int = 1_500) -> int:
    orgs = registry(registry_size)
    index = RegistryIndex.build(o.record() for o in orgs)
    found = queries(orgs, sample=sample)
    started = time.perf_counter()
    results = [(q, index.best(q.name, q.credit_code or None)) for q in found]
    elapsed = time.perf_counter() - started
    auto = [(q, c) for q, c in results if c and c.decision is MatchDecision.MATCH]
    review = [(q, c) for q, c in results if c and c.decision is MatchDecision.REVIEW]
    positives = [q for q in found if not q.negative]
    auto_positives = [q for q in positives if q.auto_expected]
    correct_auto = {q.record_id for q, c in auto if c.org_id == q.expected}
    correct_any = correct_auto | {q.record_id for q, c in review if c.org_id == q.expected}
    negatives = [q for q in found if q.negative]
    figures = {
        "auto-match precision": len(correct_auto) / max(1, len(auto)),
        "auto-match recall": len(correct_auto & {q.record_id for q in auto_positives}) / max(1, len(auto_positives)),
        "recall including review": len(correct_any & {q.record_id for q in positives}) / max(1, len(positives)),
        "hard negatives auto-matched": sum(1 for q, _ in auto if q.negative) / max(1, len(negatives)),
        "review share of all records": len(review) / len(found),
    }
    print(f"registry {len(orgs):,} organisations; {len(found):,} queries: {len(positives):,} positives, "
          f"{len(negatives):,} negatives; {len(found) / elapsed:,.0f} queries/s")  # fmt: skip
    failed = 0
    for name, value in figures.items():
        target, sense = TARGETS[name]
        ok = value >= target if sense == ">=" else value <= target
        failed += not ok
        print(f"  {name:30} {value:7.4f}   target {sense} {target}   {'PASS' if ok else 'FAIL'}")
    print("\nper variant (positives: share matched to the right organisation, auto / incl. review;"
          " negatives: share auto-matched / sent to review):")  # fmt: skip
    by_variant: dict[str, Counter[str]] = {}
    for q, c in results:
        counts = by_variant.setdefault(q.variant, Counter())
        counts["n"] += 1
        decided = c.decision.value if c else "none"
        right = bool(c and c.org_id == q.expected)
        counts["auto_ok" if decided == "match" and right else "x"] += 1
        counts["any_ok" if decided in ("match", "review") and right else "y"] += 1
        counts[decided] += 1
    for variant, counts in sorted(by_variant.items()):
        n = counts["n"]
        if variant in {q.variant for q in negatives}:
            print(
                f"  {variant:32} n={n:5}  auto-matched {counts['match'] / n:6.1%}  review {counts['review'] / n:6.1%}"
            )
        else:
            print(
                f"  {variant:32} n={n:5}  auto {counts['auto_ok'] / n:6.1%}  incl. review {counts['any_ok'] / n:6.1%}"
            )
    return failed


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
