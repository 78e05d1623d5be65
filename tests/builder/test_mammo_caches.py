"""The mammogram's caches (bounded by bytes, read-only values, a drawn anatomy reused) and its
in-place helpers: the same pixels as drawing afresh."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from dicomfab.builder.pixels import mammo
from dicomfab.builder.pixels.memo import BoundedCache, bounded_cache, nbytes


@pytest.fixture
def cold() -> Iterator[None]:
    """Every cache of the module empty before and after (other tests see a cold module too)."""
    caches = (
        mammo._drawn_anatomy, mammo._drawn_plane, mammo._spectrum_shape, mammo._pool,
        mammo._noise_pool,
    )  # fmt: skip
    for cache in caches:
        cache.cache_clear()
    yield
    for cache in caches:
        cache.cache_clear()


def test_bounded_cache_returns_read_only_arrays_and_counts() -> None:
    calls: list[int] = []

    @bounded_cache(maxsize=4, maxbytes=1 << 20)
    def ramp(n: int) -> np.ndarray:
        calls.append(n)
        return np.arange(n, dtype=np.float32)

    first = ramp(10)
    assert ramp(10) is first and calls == [10]
    with pytest.raises(ValueError, match="read-only"):
        first[0] = 1.0
    info = ramp.cache_info()
    assert (info.hits, info.misses, info.currsize, info.nbytes) == (1, 1, 1, 40)


def test_bounded_cache_keeps_within_its_bytes_and_entries() -> None:
    @bounded_cache(maxsize=3, maxbytes=1000)
    def block(n: int) -> np.ndarray:
        return np.zeros(n, dtype=np.uint8)

    for n in (400, 300, 200):
        block(n)
    assert block.cache_info().nbytes == 900
    block(250)  # 1150 bytes: the oldest (400) goes
    assert block.cache_info().nbytes == 750 and block.cache_info().currsize == 3
    block(600)  # 1350 bytes: 300 and 200 go
    assert block.cache_info().nbytes == 850 and block.cache_info().currsize == 2
    big = block(5000)  # larger than the whole cache: returned, not kept
    assert big.shape == (5000,) and block.cache_info().nbytes == 850
    block(10)
    block(11)  # four entries: the least recently used goes (250), however small the others are
    assert block.cache_info().nbytes == 621 and block.cache_info().currsize == 3


def test_bounded_cache_drops_the_least_recently_used() -> None:
    @bounded_cache(maxsize=2, maxbytes=1 << 20)
    def one(n: int) -> np.ndarray:
        return np.full(1, n)

    a = one(1)
    one(2)
    assert one(1) is a  # 1 used again: 2 is now the oldest
    one(3)
    assert one(1) is a
    assert one.cache_info().misses == 3
    one(2)  # dropped before: drawn again
    assert one.cache_info().misses == 4


def test_nbytes_counts_arrays_tuples_and_objects_that_say() -> None:
    a, b = np.zeros(3, np.float32), np.zeros(5, np.uint16)
    assert nbytes(a) == 12 and nbytes((a, (b, "x"))) == 22 and nbytes(7) == 0


def test_module_caches_are_bounded_to_64_mb() -> None:
    for cache in (mammo._drawn_anatomy, mammo._spectrum_shape, mammo._pool, mammo._noise_pool):
        assert isinstance(cache, BoundedCache)
        assert cache.cache_info().maxbytes <= 64 << 20


@pytest.mark.usefixtures("cold")
def test_a_cached_anatomy_is_read_only_and_equals_a_fresh_one() -> None:
    drawn = mammo._drawn_anatomy(21, 832, 640, True)
    assert mammo._drawn_anatomy(21, 832, 640, True) is drawn
    fresh = mammo._drawn_anatomy.__wrapped__(21, 832, 640, True)
    for name in ("anatomy", "glands", "edge"):
        array = getattr(drawn, name)
        assert not array.flags.writeable
        assert np.array_equal(array, getattr(fresh, name))
        assert array.dtype == getattr(fresh, name).dtype
    assert drawn.state == fresh.state
    rng = np.random.default_rng(21)  # what synthesize drew before caching: shape, then anatomy
    anatomy, glands, _ = mammo._anatomy(rng, mammo._shape(rng, True), *mammo._coarse(832, 640))
    assert np.array_equal(drawn.anatomy, anatomy) and np.array_equal(drawn.glands, glands)
    assert drawn.state == rng.bit_generator.state
    assert drawn.nbytes == drawn.anatomy.nbytes + drawn.glands.nbytes + drawn.edge.nbytes
    with pytest.raises(ValueError, match="read-only"):
        drawn.glands[0, 0] = 0.0


@pytest.mark.usefixtures("cold")
@pytest.mark.parametrize(
    ("laterality", "oblique", "bits", "dtype"),
    [("L", False, 12, np.uint16), ("R", True, 10, np.uint16), ("R", False, 8, np.uint8)],
)
def test_the_same_image_from_a_cold_and_a_warm_cache(
    laterality: str, oblique: bool, bits: int, dtype: type[np.unsignedinteger]
) -> None:
    """Calcifications go on from the generator where the anatomy left it: a reused anatomy must
    bring that state along, or the specks move."""

    def draw(calcs: bool, mass: bool) -> np.ndarray:
        return mammo.synthesize(
            34, 416, 320, bits, dtype, laterality=laterality, oblique=oblique,
            calcifications=calcs, mass=mass,
        )  # fmt: skip

    def clear() -> None:
        for cache in (mammo._drawn_anatomy, mammo._spectrum_shape, mammo._pool, mammo._noise_pool):
            cache.cache_clear()

    cold = {}
    for calcs, mass in [(True, True), (True, False), (False, False)]:
        clear()
        cold[calcs, mass] = draw(calcs, mass)
    clear()
    draw(False, False)  # the anatomy cached without lesions ...
    assert mammo._drawn_anatomy.cache_info().currsize == 1
    for (calcs, mass), image in cold.items():  # ... gives the lesions of a cold draw
        again = draw(calcs, mass)
        assert again.flags.writeable  # the caller's own array
        assert np.array_equal(again, image)
    assert mammo._drawn_anatomy.cache_info().hits == 3
    assert not np.array_equal(cold[True, False], cold[False, False])  # specks were drawn


@pytest.mark.usefixtures("cold")
def test_calcifications_go_on_from_the_anatomys_generator() -> None:
    plain = mammo.synthesize(34, 416, 320, 12, np.uint16, laterality="R")
    rng = np.random.default_rng(34)
    mammo._anatomy(rng, mammo._shape(rng, False), *mammo._coarse(416, 320))
    expected = plain.copy()
    glands = mammo._drawn_anatomy(34, 416, 320, False).glands
    mammo._calcifications(rng, expected, glands, (416 / 52, 320 / 40), 4095, True)
    assert not np.array_equal(expected, plain)
    calcs = mammo.synthesize(34, 416, 320, 12, np.uint16, laterality="R", calcifications=True)
    assert np.array_equal(calcs, expected)


@pytest.mark.usefixtures("cold")
def test_changing_an_image_does_not_change_the_next() -> None:
    first = mammo.synthesize(5, 256, 208, 12, np.uint16)
    kept = first.copy()
    first[:] = 0
    assert np.array_equal(mammo.synthesize(5, 256, 208, 12, np.uint16), kept)


def _awkward(seed: int) -> np.ndarray:
    """Values around and beyond [0, 1] and ±1/width, with the float32 edge cases among them."""
    values = np.random.default_rng(seed).normal(0.5, 1.5, 4000).astype(np.float32)
    special = np.array([0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-30, -1e-30, 0.25, 4.0], np.float32)
    return np.concatenate([values, special, np.nextafter(special, np.float32(9))])


@pytest.mark.parametrize("seed", [1, 2])
def test_in_place_helpers_give_the_same_floats_bit_for_bit(seed: int) -> None:
    x = _awkward(seed)
    into = x.copy()
    mammo._smoothstep_into(into, np.empty_like(into))
    assert into.tobytes() == mammo._smoothstep(x).tobytes()
    for width in (0.25, 0.3):
        into = x.copy()
        mammo._ridge_into(into, width)
        assert into.tobytes() == mammo._ridge(x, width).astype(np.float32).tobytes()


@pytest.mark.usefixtures("cold")
def test_an_image_not_kept_leaves_no_anatomy_behind() -> None:
    """The frame-by-frame path (an object too large to hold) must not fill the cache."""
    loose = mammo.synthesize(6, 256, 208, 12, np.uint16, oblique=True, keep=False)
    assert mammo._drawn_anatomy.cache_info().currsize == 0
    assert np.array_equal(loose, mammo.synthesize(6, 256, 208, 12, np.uint16, oblique=True))
    assert mammo._drawn_anatomy.cache_info().currsize == 1


def _slices(frames: int, **options: object) -> list[np.ndarray]:
    return [
        mammo.synthesize(41, 256, 208, 12, np.uint16, depth=(f, frames), **options)  # type: ignore[arg-type]
        for f in range(frames)
    ]


@pytest.mark.usefixtures("cold")
@pytest.mark.parametrize("oblique", [False, True])
def test_tomosynthesis_slices_go_through_one_breast(oblique: bool) -> None:
    """Every slice has the breast's outline; slice 0 is the 2D mammogram of the same seed; the
    tissue changes gradually with depth (neighbours alike, far slices not); only one plane of
    tissue is drawn every SLICES_PER_PLANE slices, each with the breast's density and muscle."""
    frames = 3 * mammo.SLICES_PER_PLANE + 1
    slices = _slices(frames, oblique=oblique)
    outline = slices[0] > 0
    assert all(np.array_equal(s > 0, outline) for s in slices)
    flat = mammo.synthesize(41, 256, 208, 12, np.uint16, oblique=oblique)
    assert np.array_equal(slices[0], flat)

    def alike(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a[outline], b[outline])[0, 1])

    assert alike(slices[1], slices[2]) > alike(slices[0], slices[-1]) + 0.1
    assert len({s.tobytes() for s in slices}) == frames  # the quantum noise is each slice's own
    assert mammo._drawn_plane.cache_info().currsize == 4  # planes 0, 8, 16 and 24
    breast = mammo._drawn_anatomy(41, 256, 208, oblique).traits  # density, pectoral muscle
    planes = [mammo._drawn_plane(41, k, 256, 208, oblique) for k in range(4)]
    assert all(plane.traits == breast for plane in planes)
    assert (breast.muscle is not None) == oblique


@pytest.mark.usefixtures("cold")
def test_a_slice_is_the_same_drawn_alone_or_among_the_others() -> None:
    among = _slices(12, laterality="R", calcifications=True, mass=True)
    for cache in (mammo._drawn_anatomy, mammo._drawn_plane):
        cache.cache_clear()
    alone = mammo.synthesize(
        41, 256, 208, 12, np.uint16, laterality="R", calcifications=True, mass=True, depth=(5, 12)
    )
    assert np.array_equal(alone, among[5])


@pytest.mark.usefixtures("cold")
def test_a_one_slice_object_is_the_2d_mammogram() -> None:
    assert np.array_equal(
        mammo.synthesize(41, 256, 208, 12, np.uint16, depth=(0, 1)),
        mammo.synthesize(41, 256, 208, 12, np.uint16),
    )
