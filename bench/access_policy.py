"""Policy decisions per second in-process (Cedar via cedarpy, policies parsed once).

Two figures: `uncached` (the decision cache switched off: every decision is evaluated by Cedar) and `cached`
(the engine as the service runs it: a decision depends on kinds and attributes, not on item ids, so a
repeated check is a dictionary lookup).
Prints one JSON object. Run from the repository root: `python -m bench.access_policy [--quick]`.
Sizes: 50,000 decisions per figure (--quick: 2,000), seed 20261128.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid

from governance.access.policy import PolicyEngine
from governance.access.principals import Principal, Resource
from governance.settings import PROJECT_ROOT

SEED = 20261128


Check = tuple[Principal, str, Resource, dict | None]


def requests(count: int, rng: random.Random, distinct: bool) -> list[Check]:
    subject = uuid.UUID(int=rng.getrandbits(128), version=4)
    staff = [
        Principal(kind="staff", id=f"s{i}", roles=frozenset({role}), mfa=True)
        for i, role in enumerate(["admin", "dpo", "support", "auditor"])
    ]
    client = Principal(
        kind="client",
        id="model-svc",
        scopes=frozenset({"datasets:request", "training:submit", "consents:read"}),
        purposes=frozenset({"recommendations"}),
    )
    session = Principal(kind="subject", id="sess", subject_id=subject)
    mix = [
        (session, "profile.read_clear", "Subject", None),
        (session, "consent.write", "Subject", None),
        (staff[2], "profile.read_masked", "Subject", None),
        (staff[2], "profile.break_glass", "Subject", {"reason": "ticket 1234"}),
        (staff[3], "audit.read", "AuditLog", None),
        (staff[1], "dsr.manage", "Request", None),
        (staff[0], "staff.manage", "StaffAccount", None),
        (client, "dataset.request", "Dataset", None),
        (client, "training.submit", "TrainingJob", None),
        (client, "consent.check", "Subject", None),
    ]
    out = []
    for n in range(count):
        principal, action, rtype, context = mix[rng.randrange(len(mix))]
        rid = f"r{n}" if distinct else "r"
        resource = Resource(
            type=rtype,
            id=rid,
            owner_subject_id=subject,
            purpose="recommendations",
            owner_client_id="model-svc",
        )
        out.append((principal, action, resource, context))
    return out


def measure(engine: PolicyEngine, batch: list) -> float:
    start = time.perf_counter()
    for principal, action, resource, context in batch:
        engine.decide(principal, action, resource, context)
    return len(batch) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count = 2_000 if args.quick else 50_000
    rng = random.Random(SEED)
    start = time.perf_counter()
    engine = PolicyEngine.from_directory(PROJECT_ROOT / "policies")
    load_ms = (time.perf_counter() - start) * 1000
    no_cache = PolicyEngine.from_directory(PROJECT_ROOT / "policies", cache_size=0)
    measure(no_cache, requests(200, rng, distinct=True))  # warm-up
    uncached = measure(no_cache, requests(count, rng, distinct=True))
    cached = measure(engine, requests(count, rng, distinct=True))
    print(
        json.dumps(
            {
                "figure": "access_policy_decisions_per_second",
                "decisions": count,
                "policies": len(engine.policy_ids),
                "load_and_validate_ms": round(load_ms, 1),
                "uncached_per_second": round(uncached),
                "uncached_us_per_decision": round(1e6 / uncached, 1),
                "cached_per_second": round(cached),
                "cached_us_per_decision": round(1e6 / cached, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
