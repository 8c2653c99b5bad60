"""Throughput of the pure scoring engine: µs per village with the bundled reference set.

    python bench/bench_engine.py [--villages 20000] [--repeat 5] [--seed 7]

The reference document goes through the path a stored version takes (JSON in the database,
then `parse_document`, as `api.services.versions.document_of` does). Values are drawn
deterministically the way `generate` draws them (around each target, about 5 % of measures
left unreported) and cleaned with `clean_values`, so the timed loop is `score` alone. Times
are process CPU time: the two cores are shared, and wall time counts the waits for them.
"""

import argparse
import hashlib
import json
import random
import time
from decimal import Decimal
from typing import Any

from api.seed.generate import draw_values, households, value_plan
from api.services.scoring import clean_values
from criteria.document import CriteriaDocument, parse_document
from criteria.engine import score
from criteria.loader import SETS_DIR, load_document_file

MISSING_SHARE = 0.05


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--villages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs; the best is shown")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


def stored_reference() -> CriteriaDocument:
    """The reference set as the services hold it: stored as JSON, parsed back."""
    doc = parse_document(load_document_file(SETS_DIR / "ttm-reference.yaml"))
    stored = json.loads(json.dumps(doc.model_dump(mode="json", exclude_none=True)))
    return parse_document(stored)


def villages(doc: CriteriaDocument, count: int, seed: int) -> list[dict[str, Any]]:
    """`count` villages' cleaned values, the same for the same seed."""
    rng = random.Random(seed)
    plan = value_plan(doc)
    drawn = []
    for _ in range(count):
        values = draw_values(rng, plan, households(rng), rng.gauss(0.0, 8.0), rng.random())
        kept = {k: v for k, v in values.items() if rng.random() >= MISSING_SHARE}
        drawn.append(clean_values(json.loads(json.dumps(kept))))
    return drawn


def timed_run(doc: CriteriaDocument, batch: list[dict[str, Any]]) -> float:
    """Seconds to score every village of `batch` once."""
    start = time.process_time()
    for values in batch:
        score(doc, values)
    return time.process_time() - start


def digest(doc: CriteriaDocument, batch: list[dict[str, Any]]) -> str:
    """A short hash of every result, to compare two engines' outputs."""
    sha = hashlib.sha256()
    for values in batch:
        result = score(doc, values)
        sha.update(f"{result.status}|{result.score}".encode())
        for ind in result.indicators:
            gap = (ind.gap.measure, ind.gap.amount) if ind.gap else None
            sha.update(f"{ind.value}|{ind.passed}|{ind.attainment}|{gap}".encode())
    return sha.hexdigest()[:16]


def main() -> None:
    args = parse_args()
    doc = stored_reference()
    batch = villages(doc, args.villages, args.seed)
    timed_run(doc, batch[:1000])  # warm-up: compile the plan, fill caches
    runs = [timed_run(doc, batch) for _ in range(args.repeat)]
    per_village = [1e6 * seconds / len(batch) for seconds in runs]
    scores = [score(doc, values).score for values in batch]
    print(f"villages: {len(batch):,}  indicators per village: {len(doc.indicators())}")
    print(f"runs (µs/village): {', '.join(f'{us:.2f}' for us in per_village)}")
    print(f"best of {args.repeat}: {min(per_village):.2f} µs/village")
    print(f"throughput (best): {len(batch) / min(runs):,.0f} villages/s")
    print(f"mean score: {sum(scores, Decimal(0)) / len(scores):.2f}")
    print(f"result digest: {digest(doc, batch)}")


if __name__ == "__main__":
    main()
