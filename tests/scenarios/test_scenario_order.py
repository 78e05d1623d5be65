"""Several scenarios on a process pool: the costliest start first, the results keep the order
of the requests, and the files do not depend on which process wrote them."""

from __future__ import annotations

from pathlib import Path

from dicomfab.scenarios import ScenarioRequest, compose, generate_scenarios, scenarios
from dicomfab.scenarios.generate import _cost
from dicomfab.scenarios.profiles import load_profiles

NATIVE = "accession_empty_or_colliding"
LOSSY = "jpeg2000_lossless_and_lossy"


def _composed_cost(name: str, size: str) -> int:
    return _cost(compose(scenarios()[name], {"image_size": size}, load_profiles(None)))


def test_cost_grows_with_pixels_and_lossy_encoding() -> None:
    assert _composed_cost(NATIVE, "reduced") > _composed_cost(NATIVE, "small")
    native, lossy = _composed_cost(NATIVE, "reduced"), _composed_cost(LOSSY, "reduced")
    native_count = len(compose(scenarios()[NATIVE], {}, load_profiles(None)).plan.instances)
    lossy_count = len(compose(scenarios()[LOSSY], {}, load_profiles(None)).plan.instances)
    assert lossy / lossy_count > native / native_count  # per instance: encoding costs


def test_pool_results_in_request_order_and_same_bytes(tmp_path: Path) -> None:
    # the cheap one first: the pool starts the other first, the results stay in this order
    requests = [
        ScenarioRequest(NATIVE, {"image_size": "small"}),
        ScenarioRequest(LOSSY, {"image_size": "small"}),
    ]
    pooled = generate_scenarios(requests, tmp_path / "pool", workers=2)
    alone = generate_scenarios(requests, tmp_path / "alone", workers=1)
    assert [r.path.name for r in pooled] == [NATIVE, LOSSY]
    for a, b in zip(pooled, alone, strict=True):
        files = sorted(p.relative_to(a.path) for p in a.path.rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(b.path) for p in b.path.rglob("*") if p.is_file())
        for name in files:
            assert (a.path / name).read_bytes() == (b.path / name).read_bytes(), name
