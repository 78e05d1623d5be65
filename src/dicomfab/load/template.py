"""The studies a load sends: one screening study generated once, then given new identities.

The template is dicomfab's own 4-view MG study (:func:`template_spec`), generated once and kept
as its encoded bytes. Study ``i`` of a load is the template with every instance UID the
template holds (``2.25.…``: study, series, SOP instance, frame of reference, …) replaced by a
UID derived from ``(seed, i, old UID)`` with dicomfab's UID factory (references inside a study
stay consistent), and a PatientID and AccessionNumber derived the same way. Only the header
data set is encoded again; the Pixel Data element's bytes (and anything after it) are reused as
they are, so making a study costs milliseconds whatever the image size.
"""

from __future__ import annotations

import copy
import io
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dicomfab.builder.uids import UIDFactory

VIEWS = ("RCC", "LCC", "RMLO", "LMLO")
NAMESPACE = "dicomfab-load"  # keeps a load's UIDs apart from any generated dataset's
TEMPLATE_SEED = 2031


def template_spec(image_size: str) -> Any:
    """A screening study: one patient, one current 4-view MG series."""
    from dicomfab.studyspec.models import Spec

    return Spec.model_validate(
        {
            "name": "load_template",
            "seed": TEMPLATE_SEED,
            "defaults": {"iod": "mg", "pixels": {"size": image_size}},
            "patients": [{"studies": [{"role": "current", "series": [{"views": list(VIEWS)}]}]}],
        }
    )


@dataclass(frozen=True)
class TemplateInstance:
    """One template file: its meta, its header data set (no Pixel Data) and the encoded bytes
    from the Pixel Data element to the end of the file."""

    file_meta: Any  # pydicom FileMetaDataset
    header: Any  # pydicom Dataset, without Pixel Data
    tail: bytes

    @property
    def sop_class_uid(self) -> str:
        return str(self.header.SOPClassUID)

    @property
    def transfer_syntax(self) -> str:
        return str(self.file_meta.TransferSyntaxUID)


@dataclass(frozen=True)
class LoadInstance:
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str
    parts: tuple[bytes, ...]  # the data set in ``transfer_syntax``: new header, reused pixels

    @property
    def data(self) -> bytes:
        """The data set as one buffer (a copy: the sender sends :attr:`parts` as they are)."""
        return b"".join(self.parts)


@dataclass(frozen=True)
class LoadStudy:
    index: int
    study_instance_uid: str
    patient_id: str
    accession_number: str
    instances: tuple[LoadInstance, ...]

    @property
    def sop_instance_uids(self) -> list[str]:
        return [i.sop_instance_uid for i in self.instances]


def read_instance(data: bytes) -> TemplateInstance:
    """Split a Part 10 file's bytes into meta, header and the encoded Pixel Data onwards."""
    from pydicom import dcmread

    fp = io.BytesIO(data)
    ds = dcmread(fp, stop_before_pixels=True)
    tail = data[fp.tell() :]
    meta = ds.file_meta
    ds.file_meta = None  # type: ignore[assignment]
    return TemplateInstance(meta, ds, tail)


def generate_template(image_size: str, workdir: Path) -> list[TemplateInstance]:
    """Generate the template study under ``workdir`` (removed again: only the bytes are kept)."""
    return [read_instance(data) for data in template_files(image_size, workdir)]


def template_files(image_size: str, workdir: Path) -> list[bytes]:
    """The template study's Part 10 files, generated under ``workdir`` and removed again (what
    ``--dask`` sends its workers: every worker then sends the same bytes)."""
    from dicomfab.output.generate import generate

    folder = workdir / ".load-template"
    try:
        result = generate(template_spec(image_size), folder, workers=1)
        return [f.read_bytes() for f in sorted(result.path.glob("dicoms/*/*.dcm"))]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _digits(number: int, length: int) -> str:
    return str(number % 10**length).rjust(length, "0")


class StudyMaker:
    """Study ``i`` of a load with ``seed``: :meth:`study` for sending, :meth:`part10` for a
    file of it (tests, debugging)."""

    def __init__(self, template: list[TemplateInstance], seed: int) -> None:
        if not template:
            raise ValueError("an empty template")
        self.template = template
        self.seed = seed
        self.uids = UIDFactory(seed, namespace=NAMESPACE)
        self._local = threading.local()  # each thread's working copies of the headers
        self._old = sorted(
            {
                str(e.value)
                for t in template
                for e in t.header.iterall()
                if e.VR == "UI" and isinstance(e.value, str) and e.value.startswith("2.25.")
            }
        )

    def identity(self, i: int) -> tuple[str, str, dict[str, str]]:
        """PatientID, AccessionNumber and the old → new UID map of study ``i``."""
        mapping = {old: self.uids.uid("study", i, old) for old in self._old}
        patient_id = "LD" + _digits(self.uids.number("patient", i), 14)
        accession = "LA" + _digits(self.uids.number("accession", i), 14)
        return patient_id, accession, mapping

    def _header(self, k: int, i: int) -> Any:
        """Template instance ``k``'s header with study ``i``'s identity: this thread's own copy
        of it, changed in place (a deep copy per instance cost more than all the rest), valid
        until this thread's next call."""
        patient_id, accession, mapping = self.identity(i)
        copies = getattr(self._local, "copies", None)
        if copies is None:
            copies = self._local.copies = [self._working_copy(t) for t in self.template]
        ds, uids = copies[k]
        for element, old in uids:
            element.value = mapping[old]
        ds.PatientID = patient_id
        ds.AccessionNumber = accession
        return ds

    def _working_copy(self, t: TemplateInstance) -> tuple[Any, list[tuple[Any, str]]]:
        ds = copy.deepcopy(t.header)
        old = set(self._old)
        uids = [
            (e, str(e.value))
            for e in ds.iterall()
            if e.VR == "UI" and isinstance(e.value, str) and e.value in old
        ]
        return ds, uids

    @staticmethod
    def _encode(ds: Any, transfer_syntax: str) -> bytes:
        from pydicom.filebase import DicomBytesIO
        from pydicom.filewriter import write_dataset
        from pydicom.uid import UID

        from dicomfab.output.header import dataset_bytes

        ts = UID(transfer_syntax)
        if ts.is_little_endian and not ts.is_deflated:
            return dataset_bytes(ds, ts.is_implicit_VR)  # pydicom's bytes, in less CPU
        fp = DicomBytesIO()
        fp.is_little_endian = ts.is_little_endian
        fp.is_implicit_VR = ts.is_implicit_VR
        write_dataset(fp, ds)
        return bytes(fp.getvalue())

    def study(self, i: int) -> LoadStudy:
        instances = []
        for k, t in enumerate(self.template):
            ds = self._header(k, i)
            parts = (self._encode(ds, t.transfer_syntax), t.tail)
            instances.append(
                LoadInstance(t.sop_class_uid, str(ds.SOPInstanceUID), t.transfer_syntax, parts)
            )
        patient_id, accession, mapping = self.identity(i)
        study_uid = mapping[str(self.template[0].header.StudyInstanceUID)]
        return LoadStudy(i, study_uid, patient_id, accession, tuple(instances))

    def part10(self, i: int, k: int) -> bytes:
        """Instance ``k`` of study ``i`` as a Part 10 file."""
        from pydicom.filebase import DicomBytesIO
        from pydicom.filewriter import write_file_meta_info

        t = self.template[k]
        ds = self._header(k, i)
        meta = copy.deepcopy(t.file_meta)
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        fp = DicomBytesIO()
        fp.write(b"\0" * 128 + b"DICM")
        write_file_meta_info(fp, meta, enforce_standard=True)
        return bytes(fp.getvalue()) + self._encode(ds, t.transfer_syntax) + t.tail
