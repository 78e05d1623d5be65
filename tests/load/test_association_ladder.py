"""The pure part of ``dicomfab check --associations``: the ladder of association counts, when it
stops, and which count it recommends (synthetic rates, no network)."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from dicomfab.load.associations import (
    MIN_GAIN,
    NEAR_BEST,
    STALL_SECONDS,
    Step,
    combine,
    gains,
    ladder,
    recommend,
    stalled,
    stop_reason,
    studies_for_step,
)


def step(k: int, rate: float, errors: int = 0, warmup: bool = False) -> Step:
    sent = 100
    return Step(k, sent, sent - errors, errors, seconds=(sent - errors) / rate, warmup=warmup)


rates = st.lists(st.floats(min_value=0.5, max_value=500.0), min_size=1, max_size=8)


def test_ladder_is_the_documented_one() -> None:
    assert ladder(8) == [1, 2, 3, 4, 6, 8]
    assert ladder(5) == [1, 2, 3, 4, 5]
    assert ladder(1) == [1]
    assert ladder(16) == [1, 2, 3, 4, 6, 8, 12, 16]


@given(st.integers(min_value=1, max_value=64))
def test_ladder_rises_from_one_to_max(max_k: int) -> None:
    ks = ladder(max_k)
    assert ks[0] == 1 and ks[-1] == max_k
    assert all(a < b for a, b in pairwise(ks))


@given(rates)
def test_recommendation_is_the_smallest_k_near_the_best(values: list[float]) -> None:
    ks = ladder(16)[: len(values)]
    steps = [step(1, 1000.0, warmup=True)] + [step(k, r) for k, r in zip(ks, values, strict=False)]
    k = recommend(steps)
    assert k in ks  # a measured k, never the warm-up's rate
    best = max(values)
    chosen = values[ks.index(k)]
    assert chosen >= NEAR_BEST * best
    assert all(r < NEAR_BEST * best for kk, r in zip(ks, values, strict=False) if kk < k)


def test_the_count_the_target_serves_at_once_is_recommended_when_near_the_best() -> None:
    steps = [step(1, 30.0), step(2, 55.0), step(3, 64.0), step(4, 62.0)]
    assert recommend(steps) == 3  # the smallest near the best
    assert recommend(steps, served=4) == 4  # every thread the target has, at no loss
    steps[-1] = step(4, 55.0)  # under 95 % of the best: the probe's count is not worth it
    assert recommend(steps, served=4) == 3
    assert recommend(steps[:3], served=4) == 3  # not measured
    assert recommend([step(1, 30.0), step(2, 60.0, errors=1)], served=2) == 1


def test_a_stall_is_a_wait_well_beyond_the_round_trip() -> None:
    assert not stalled(0.004, 0.004)
    assert not stalled(0.2, 0.004)
    assert stalled(0.6, 0.004)  # Orthanc, 5 associations open against 4 threads
    assert stalled(STALL_SECONDS + 0.021, 0.004)
    assert not stalled(0.5, 0.06)  # a slow network's round trip raises the bar
    assert stalled(0.9, 0.06)


def test_recommendation_skips_steps_with_errors() -> None:
    steps = [step(1, 10.0), step(2, 30.0, errors=5), step(3, 12.0)]
    assert recommend(steps) == 3
    assert recommend([step(1, 10.0, errors=1)]) is None
    assert recommend([step(1, 20.0, warmup=True)]) is None


def test_stop_reasons() -> None:
    warm = step(1, 5.0, warmup=True)
    assert stop_reason([warm]) is None
    assert stop_reason([warm, step(1, 10.0)]) is None
    assert stop_reason([warm, step(1, 10.0), step(2, 20.0)]) is None
    assert stop_reason([warm, step(1, 10.0), step(2, 10.3)]) == "gain under 5%"
    assert stop_reason([warm, step(1, 10.0), step(2, 9.0)]) == "rate fell"
    assert stop_reason([warm, step(1, 10.0), step(2, 20.0, errors=1)]) == "errors"
    assert stop_reason([step(1, 10.0, errors=2, warmup=True)]) == "errors"


@given(rates)
def test_ladder_goes_on_exactly_while_each_step_gains_enough(values: list[float]) -> None:
    steps = [step(i + 1, r) for i, r in enumerate(values)]
    reason = stop_reason(steps)
    last_gain = gains(steps)[-1]
    if last_gain is None:
        assert reason is None
    else:
        assert (reason is None) == (last_gain >= MIN_GAIN)
        assert (reason == "rate fell") == (last_gain < 0)


@given(st.integers(1, 50), st.integers(1, 32), st.integers(1, 8))
def test_each_association_gets_two_instances(studies: int, k: int, per_study: int) -> None:
    n = studies_for_step(studies, k, per_study)
    assert n >= studies and n * per_study >= 2 * k
    assert n == studies or (n - 1) * per_study < 2 * k


def test_a_repeated_step_takes_the_median_burst_and_sums_the_counts() -> None:
    bursts = [step(2, 10.0), step(2, 50.0), step(2, 12.0)]
    combined = combine(bursts)
    assert combined.rate == 12.0  # one fast (noisy) burst does not move it
    assert combined.rounds == (10.0, 50.0, 12.0)
    assert (combined.k, combined.sent, combined.ok) == (2, 300, 300)
    assert combined.as_dict(None)["rounds"] == [10.0, 50.0, 12.0]
    single = combine([step(3, 20.0)])
    assert single.rate == 20.0 and single.as_dict(None)["rounds"] == [20.0]


def test_a_repeated_step_keeps_its_errors() -> None:
    combined = combine([step(2, 10.0), step(2, 10.0, errors=3)])
    assert combined.errors == 3 and stop_reason([combined]) == "errors"
