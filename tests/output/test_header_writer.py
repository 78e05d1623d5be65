"""output.header writes the bytes pydicom's dcmwrite writes, for built instances of every kind
and for the element shapes a spec's tags can produce."""

from __future__ import annotations

import copy
import warnings
from io import BytesIO

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import dcmwrite, write_dataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
)

from dicomfab.builder import pixels
from dicomfab.builder.dataset import build_dataset
from dicomfab.builder.transfer import encode
from dicomfab.builder.validation import writing_mode
from dicomfab.output.header import _ambiguous, _fast, _Unsure, dataset_bytes, header_bytes
from dicomfab.scenarios import compose, load_profiles, scenarios


def _dcmwrite(ds: Dataset) -> bytes:
    buffer = DicomBytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def _same(ds: Dataset, fast: bool = True) -> None:
    """header_bytes(ds) is dcmwrite's output; ``fast``: without falling back to dcmwrite."""
    twin = copy.deepcopy(ds)
    expected = _dcmwrite(twin)
    if fast:
        assert _fast(copy.deepcopy(ds)) == expected
    assert header_bytes(ds) == expected
    assert ds == twin  # the same changes to the data set (ambiguous VRs resolved)


def _meta(ds: Dataset, syntax: str = ExplicitVRLittleEndian) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = syntax
    meta.ImplementationClassUID = "2.25.186286998657177681993761274476141863721"
    meta.ImplementationVersionName = "TEST_1"
    ds.file_meta = meta
    return ds


def _plain() -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"
    ds.SOPInstanceUID = "2.25.1234567"  # odd length: padded with a NUL
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "ODD"
    ds.ImageType = ["ORIGINAL", "PRIMARY", ""]
    ds.StudyDate = "20240102"
    ds.StudyTime = "101010.5"
    ds.InstanceNumber = 7
    ds.WindowCenter = [2047.5, 1800]
    ds.WindowWidth = "4095"
    ds.Rows, ds.Columns = 64, 48
    ds.BitsAllocated = 16
    ds.PixelRepresentation = 0
    ds.PixelPaddingValue = 0  # US or SS: resolved from PixelRepresentation
    ds.ImagerPixelSpacing = [0.1, 0.1]
    ds.ExposureTime = 1200
    ds.EntranceDoseInmGy = 6.2
    ds.RelativeXRayExposure = 850
    ds.DetectorTemperature = 30.25
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.ImageComments = "odd"
    ds.StudyDescription = "x" * 64
    ds.add_new(0x00091010, "LO", "DICOMFAB")
    ds.add_new(0x00091011, "OB", b"\x01\x02\x03")
    ds.add_new(0x00091012, "UL", [1, 2, 3])
    ds.add_new(0x00091013, "UT", "some text")
    ds.add_new(0x00091014, "FD", [1.5, -2.25])
    ds.add_new(0x00091015, "UN", b"\x00\x01\x02")
    item = Dataset()
    item.CodeValue = "T-04000"
    item.CodingSchemeDesignator = "SRT"
    item.CodeMeaning = "Breast"
    ds.AnatomicRegionSequence = Sequence([item])
    ds.ViewCodeSequence = Sequence([])
    return _meta(ds)


def test_plain_dataset_is_written_by_the_fast_path() -> None:
    _same(_plain())


@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, JPEG2000Lossless])
def test_other_little_endian_syntaxes(syntax: str) -> None:
    ds = _plain()
    ds.file_meta.TransferSyntaxUID = syntax
    if syntax == JPEG2000Lossless:  # encapsulated Pixel Data: undefined length
        ds.PixelData = b"\xfe\xff\x00\xe0\x00\x00\x00\x00\xfe\xff\x00\xe0\x03\x00\x00\x00abc"
        ds["PixelData"].VR = "OB"
    _same(ds)


def test_undefined_lengths_and_nested_sequences() -> None:
    ds = _plain()
    inner = Dataset()
    inner.ReferencedSOPClassUID = ds.SOPClassUID
    inner.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    outer = Dataset()
    outer.ReferencedSeriesSequence = Sequence([inner])
    outer.is_undefined_length_sequence_item = True
    ds.ReferencedStudySequence = Sequence([outer, Dataset()])
    ds["ReferencedStudySequence"].is_undefined_length = True
    _same(ds)


@pytest.mark.parametrize("representation", [0, 1])
def test_person_names_and_ambiguous_vrs_at_any_depth(representation: int) -> None:
    ds = _plain()
    ds.PixelRepresentation = representation  # Pixel Padding Value: US, or SS
    ds.PixelPaddingValue = 0 if representation == 0 else -2000
    ds.OperatorsName = ["Smith^John", "Doe^Jane^^Dr", ""]  # multi-valued, an empty value
    ds.PerformingPhysicianName = "Odd^Length"
    assert _ambiguous(ds) is not None  # top level only: no walk
    _same(ds)
    ds = _plain()
    item = Dataset()
    item.PixelRepresentation = representation
    item.SmallestImagePixelValue = 1  # US or SS in an item: the whole walk
    item.PersonName = "In^Item"
    ds.ReferencedImageSequence = Sequence([item])
    assert _ambiguous(ds) is None
    _same(ds)


def test_non_ascii_text_and_charsets() -> None:
    ds = _plain()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Müller^Zoë"
    ds.StudyDescription = "Mammographie beidseits – Vorsorge"
    _same(ds)
    ds = _plain()
    ds.SpecificCharacterSet = ["", "ISO 2022 IR 87"]  # left to dcmwrite whole
    ds.PatientName = "Yamada^Tarou=山田^太郎"
    with pytest.raises(_Unsure):
        _fast(copy.deepcopy(ds))
    _same(ds, fast=False)


def test_what_the_fast_path_leaves_to_dcmwrite() -> None:
    ds = _plain()
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    with pytest.raises(_Unsure):
        _fast(copy.deepcopy(ds))
    _same(ds, fast=False)
    ds = _plain()
    del ds.file_meta.ImplementationVersionName  # dcmwrite adds pydicom's
    _same(ds, fast=False)
    ds = _plain()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.ImageComments = "x" * 70000  # too long for a 16-bit length: dcmwrite writes UN
        _same(ds)


def _instances(step: int) -> list[Dataset]:
    """Built (not yet written) datasets of every ``step``-th scenario of the library, small."""
    built = []
    profiles = load_profiles()
    for name in list(scenarios())[::step]:
        scenario = scenarios()[name]
        declared = set(scenario.parameters) | ({"image_size"} if scenario.base else set())
        overrides = {"image_size": "small"} if "image_size" in declared else {}
        for inst in compose(scenario, overrides, profiles).plan.instances:
            if inst.skip_writing:
                continue
            with writing_mode(permissive=inst.permissive):
                image = pixels.render(inst)
                ds = build_dataset(inst, image)
                removed = {ref.keyword for ref in inst.remove}
                image = None if "PixelData" in removed else image
                encoded = encode(
                    ds, image, inst.transfer_syntax, frozenset(), inst.quality,
                    inst.extended_offset_table,
                )  # fmt: skip
            built.append(encoded.dataset)
    return built


def test_library_headers_match_dcmwrite() -> None:
    """A sixth of the scenario library: every header as dcmwrite writes it, most of them
    without its help."""
    fast = 0
    datasets = _instances(6)
    with warnings.catch_warnings():  # broken-on-purpose values make pydicom warn
        warnings.simplefilter("ignore")
        for ds in datasets:
            twin = copy.deepcopy(ds)
            try:
                got = _fast(ds)
                fast += 1
            except _Unsure:
                got = header_bytes(ds)
            assert got == _dcmwrite(twin)
    assert len(datasets) > 200
    assert fast > 0.9 * len(datasets)


def _write_dataset(ds: Dataset, implicit: bool) -> bytes:
    buffer = DicomBytesIO()
    buffer.is_implicit_VR, buffer.is_little_endian = implicit, True
    write_dataset(buffer, ds)
    return buffer.getvalue()


def test_dataset_bytes_are_write_datasets_for_headers_read_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The header a load sends (a data set read from a file, its identity changed): what
    write_dataset writes, in the syntax it was read with (most without its help) and in the
    other one (its fallback)."""
    from pydicom import dcmread

    from dicomfab.output import header

    fallbacks: list[bool] = []

    def counted(*args: object) -> None:
        fallbacks.append(True)
        write_dataset(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(header, "write_dataset", counted)
    compared = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for built in _instances(12):
            data = _dcmwrite(built)
            ds = dcmread(BytesIO(data), stop_before_pixels=True)
            syntax = ds.file_meta.TransferSyntaxUID
            if not syntax.is_little_endian or syntax.is_deflated:
                continue
            ds.file_meta = None
            for _ in ds.iterall():  # every element parsed, as a load's working copy is
                pass
            ds.PatientID = "LD00000000000042"
            for implicit in (syntax.is_implicit_VR, not syntax.is_implicit_VR):
                twin = copy.deepcopy(ds)
                assert dataset_bytes(ds, implicit) == _write_dataset(twin, implicit)
                compared += 1
    assert compared > 100
    assert len(fallbacks) < 0.6 * compared  # the other syntax's half, and a few more


def test_dataset_bytes_of_a_built_dataset_resolve_ambiguous_vrs_as_write_dataset() -> None:
    """A data set never read (an ambiguous VR not resolved yet) goes to write_dataset, which
    resolves it: the same bytes and the same changes."""
    ds = _plain()
    ds.PixelRepresentation = 1
    ds.SmallestImagePixelValue = -5
    ds["SmallestImagePixelValue"].VR = "US or SS"
    twin = copy.deepcopy(ds)
    assert dataset_bytes(ds, False) == _write_dataset(twin, False)
    assert ds["SmallestImagePixelValue"].VR == twin["SmallestImagePixelValue"].VR == "SS"
