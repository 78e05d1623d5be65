"""elements.assign / element give what pydicom's ``setattr`` gives: same elements, same bytes,
same warnings and errors, whether the value was remembered or not; the memory of converted
values is bounded and never shares a mutable value between datasets."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom import config as pydicom_config
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence

from dicomfab.builder import elements
from dicomfab.builder.elements import assign, element
from dicomfab.builder.validation import writing_mode

# one keyword per kind of conversion: DS, IS, US, CS (multi), LO, PN, UI, DA, TM, FD, SH, US or SS
KEYWORDS = (
    "WindowCenter InstanceNumber Rows ImageType Manufacturer PatientName SOPInstanceUID "
    "StudyDate StudyTime ExposureTimeInms StationName PixelPaddingValue ImagerPixelSpacing"
).split()


@pytest.fixture(autouse=True)
def _fresh_memory() -> Iterator[None]:
    elements.clear_cache()
    yield
    elements.clear_cache()


@pytest.fixture
def reading_mode() -> Iterator[Callable[[int], None]]:
    settings = pydicom_config.settings
    previous = settings.reading_validation_mode

    def switch(mode: int) -> None:
        settings.reading_validation_mode = mode

    yield switch
    settings.reading_validation_mode = previous


def encoded(ds: Dataset) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_dataset(fp, ds)
    return fp.getvalue()


def written(ds: Dataset) -> tuple[bytes | str, list[str]]:
    """The bytes (or the error) and the warnings of writing a dataset holding a bad value."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result: bytes | str = encoded(ds)
        except Exception as exc:
            result = type(exc).__name__
    return result, [str(w.message) for w in caught]


def outcome(set_value: Callable[[Dataset], None]) -> tuple[str, list[str], Dataset]:
    """The error (type name, or ""), the warnings and the dataset of setting a value."""
    ds = Dataset()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            set_value(ds)
            error = ""
        except Exception as exc:
            error = type(exc).__name__
    return error, [str(w.message) for w in caught], ds


def same_as_setattr(keyword: str, value: Any) -> None:
    """setattr, a first assign and a second (remembered) assign agree in everything."""
    for _ in range(2):
        expected = outcome(lambda ds: setattr(ds, keyword, value))  # writing changes it
        got = outcome(lambda ds: assign(ds, keyword, value))
        assert got[:2] == expected[:2]
        if not expected[0]:
            mine, theirs = got[2][keyword], expected[2][keyword]
            assert (mine.VR, type(mine.value)) == (theirs.VR, type(theirs.value))
            assert written(got[2]) == written(expected[2])


PLAIN = st.one_of(
    st.text(max_size=20),
    st.text(alphabet="0123456789.-+eE \\^=", max_size=20),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
)


@settings(max_examples=300, deadline=None)
@given(keyword=st.sampled_from(KEYWORDS), value=st.one_of(PLAIN, st.lists(PLAIN, max_size=3)))
def test_any_plain_value_gives_what_setattr_gives(keyword: str, value: Any) -> None:
    same_as_setattr(keyword, value)


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("WindowCenter", 2048.0),
        ("WindowCenter", [2048.0, "1024"]),
        ("EstimatedRadiographicMagnificationFactor", round(660 / 640, 4)),
        ("InstanceNumber", "0012"),
        ("ImageType", ["ORIGINAL", "PRIMARY", ""]),
        ("ImageType", "ORIGINAL\\PRIMARY"),
        ("PatientOrientation", ("A", "F")),
        ("PatientName", "Doe^Jane=ドウ^ジェーン"),
        ("PatientName", ["Doe^Jane", "Roe^Richard"]),
        ("SOPClassUID", "1.2.840.10008.5.1.4.1.1.1.2"),
        ("PixelPaddingValue", 4095),
        ("PatientAge", "054Y"),
        ("ReferringPhysicianName", ""),
        ("RescaleIntercept", 0),
    ],
)
def test_usual_values_give_the_same_elements_and_bytes(keyword: str, value: Any) -> None:
    same_as_setattr(keyword, value)


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("PatientAge", "toolongvalue"),
        ("InstanceNumber", "x1"),
        ("StudyDate", "2020-01-01"),
        ("SOPInstanceUID", "1.02.x"),
        ("SliceThickness", 1.23456789012345678),  # DS: > 16 characters
        ("InstanceNumber", 2**40),  # IS: > 32 bits
        ("Manufacturer", "a" * 80),
    ],
)
@pytest.mark.parametrize("mode", [pydicom_config.RAISE, pydicom_config.WARN, pydicom_config.IGNORE])
def test_a_bad_value_warns_or_raises_every_time_as_before(
    keyword: str, value: Any, mode: int, reading_mode: Callable[[int], None]
) -> None:
    reading_mode(mode)
    same_as_setattr(keyword, value)
    assert elements.cached_count() == 0  # never remembered


def test_a_bad_value_still_raises_in_the_strict_build_mode_after_a_permissive_use() -> None:
    with writing_mode(permissive=True):
        ds = Dataset()
        assign(ds, "SliceThickness", 1.23456789012345678)
        assign(ds, "PatientAge", "toolongvalue")
        assert ds.PatientAge == "toolongvalue"
    with writing_mode(permissive=False), pytest.raises(UserWarning, match="AS"):
        assign(Dataset(), "PatientAge", "toolongvalue")  # pytest turns warnings into errors
    with writing_mode(permissive=False), pytest.warns(UserWarning, match="AS"):
        setattr(Dataset(), "PatientAge", "toolongvalue")  # noqa: B010 - what assign replaces


def test_strict_reading_raises_for_a_bad_value_even_after_a_good_one(
    reading_mode: Callable[[int], None],
) -> None:
    reading_mode(pydicom_config.RAISE)
    assign(Dataset(), "InstanceNumber", 1)
    with pytest.raises(ValueError):
        assign(Dataset(), "InstanceNumber", "1x")
    with pytest.raises(OverflowError):
        assign(Dataset(), "SliceThickness", 1.23456789012345678)


def test_minus_zero_and_zero_are_kept_apart() -> None:
    first, second = Dataset(), Dataset()
    assign(first, "WindowCenter", 0.0)
    assign(second, "WindowCenter", -0.0)
    assert [str(ds.WindowCenter) for ds in (first, second)] == ["0.0", "-0.0"]
    assign(first, "ImagePositionPatient", [0.0, -0.0, 1.0])
    assign(second, "ImagePositionPatient", [-0.0, 0.0, 1.0])
    assert [str(v) for v in first.ImagePositionPatient] == ["0.0", "-0.0", "1.0"]
    assert [str(v) for v in second.ImagePositionPatient] == ["-0.0", "0.0", "1.0"]
    assert encoded(first) != encoded(second)
    for value in (0.0, -0.0, [0.0, -0.0], [-0.0, 0.0]):
        same_as_setattr("ImagePositionPatient", value)


def test_equal_values_of_other_types_are_kept_apart() -> None:
    text, number = Dataset(), Dataset()
    assign(text, "WindowWidth", "1")
    assign(number, "WindowWidth", 1.0)  # equal to DSfloat("1"), written "1.0"
    assert (str(text.WindowWidth), str(number.WindowWidth)) == ("1", "1.0")
    assign(text, "Manufacturer", "1")
    with pytest.warns(UserWarning, match="int"):  # 1 == "1" is False, but 1 == 1.0 is True
        assign(number, "Manufacturer", 1)
    assign(text, "ImageType", ["A", "B"])
    with pytest.warns(UserWarning, match="tuple"):  # pydicom takes a list, not a tuple
        assign(number, "ImageType", ("A", "B"))
    for value in ("1", 1, 1.0, True, [1, 1.0], (1.0, 1)):
        same_as_setattr("WindowWidth", value)


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(elements, "MAX_CACHED", 16)
    for n in range(200):
        ds = Dataset()
        assign(ds, "InstanceNumber", n)
        assert ds.InstanceNumber == n
        assert elements.cached_count() <= 16
    assert elements.cached_count() > 0


def test_a_multi_value_is_never_shared_between_datasets() -> None:
    first, second = Dataset(), Dataset()
    for ds in (first, second):
        assign(ds, "ImageType", ["ORIGINAL", "PRIMARY"])
        assign(ds, "ImagerPixelSpacing", [0.07, 0.07])
    first.ImageType[0] = "DERIVED"
    first.ImageType.append("POST_PROCESSED")
    first.ImagerPixelSpacing.append("0.1")
    assert list(second.ImageType) == ["ORIGINAL", "PRIMARY"]
    assert list(second.ImagerPixelSpacing) == [0.07, 0.07]
    assert first.ImageType is not second.ImageType
    # later items are converted as pydicom converts them (bound to the element, its VR)
    assert type(first.ImagerPixelSpacing[2]).__name__ == "DSfloat"
    third = Dataset()
    assign(third, "ImageType", ["ORIGINAL", "PRIMARY"])
    assert list(third.ImageType) == ["ORIGINAL", "PRIMARY"]


def test_a_person_name_is_never_shared_so_each_dataset_encodes_it_in_its_own_set() -> None:
    name = "Müller^Jörg"
    latin, utf8 = Dataset(), Dataset()
    latin.SpecificCharacterSet, utf8.SpecificCharacterSet = "ISO_IR 100", "ISO_IR 192"
    assign(latin, "PatientName", name)
    assign(utf8, "PatientName", name)
    assert latin.PatientName is not utf8.PatientName
    assert b"M\xfcller" in encoded(latin)  # encode() caches bytes on the first dataset's copy
    assert "Müller".encode() in encoded(utf8)


def test_element_returns_a_new_element_each_time() -> None:
    first, second = element("Rows", 256), element("Rows", 256)
    assert first is not second
    assert (first.tag, first.VR, first.value) == (0x00280010, "US", 256)
    with pytest.raises(KeyError):
        element("NotAKeyword", 1)


def test_other_names_and_special_elements_take_pydicoms_own_path() -> None:
    ds = Dataset()
    assign(ds, "python_attribute", 3)  # not a keyword: an instance attribute, as setattr
    assert ds.python_attribute == 3 and len(ds) == 0
    with pytest.raises(ValueError, match="repeating group"):
        assign(ds, "OverlayData", b"\0\0")
    ds.PixelRepresentation = 1
    item = Dataset()
    assign(ds, "ReferencedImageSequence", Sequence([item]))
    assert item._pixel_rep == 1  # __setitem__ hands a sequence the Pixel Representation
    assign(ds, "LUTDescriptor", [256, 0, 16])
    assert ds.LUTDescriptor == [256, 0, 16]
    with pytest.raises(ValueError, match="group 2"):
        assign(FileMetaDataset(), "PatientName", "Doe^Jane")
    meta = FileMetaDataset()
    assign(meta, "TransferSyntaxUID", "1.2.840.10008.1.2.1")
    assert meta.TransferSyntaxUID.is_little_endian
