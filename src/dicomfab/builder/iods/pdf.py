"""Encapsulated PDF IOD (PS3.3 A.45.1): a one-page synthetic report that travels with a study.

Module table (M = mandatory, C = conditional, U = user option) and where each is built:
  Patient M, General Study M, General Equipment M, SOP Common M             → builder.modules
  Encapsulated Document Series M                                            → _document_series
  SC Equipment M (ConversionType WSD: workstation)                          → _sc_equipment
  Encapsulated Document M                                                   → _document
  Clinical Trial *, Patient Study U                                         → not built
There is no pixel data. The PDF is written here byte by byte (no PDF library): one page of
Helvetica text with the patient and study it belongs to, and a correct cross-reference table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomfab.builder import modules as m
from dicomfab.builder.iods.base import IODTemplate
from dicomfab.builder.pixels.image import PixelImage

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
DOCUMENT_TITLE = "Synthetic breast imaging report"
CONCEPT = ("18748-4", "LN", "Diagnostic imaging study")
REQUIRED = m.REQUIRED_COMMON | m.keywords(
    "Manufacturer ConversionType InstanceNumber ContentDate ContentTime AcquisitionDateTime "
    "BurnedInAnnotation DocumentTitle ConceptNameCodeSequence MIMETypeOfEncapsulatedDocument "
    "EncapsulatedDocument"
)


def build(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    ds = Dataset()
    m.sop_common(ds, plan, ENCAPSULATED_PDF)
    m.patient(ds, plan)
    m.general_study(ds, plan)
    _document_series(ds, plan)
    m.general_equipment(ds, plan)
    _sc_equipment(ds)
    _document(ds, plan)
    return ds


# Encapsulated Document Series (C.24.1)
def _document_series(ds: Dataset, plan: InstancePlan) -> None:
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = plan.series.uid
    ds.SeriesNumber = plan.series.number
    ds.SeriesDescription = plan.series.description


# SC Equipment (C.8.6.1)
def _sc_equipment(ds: Dataset) -> None:
    ds.ConversionType = "WSD"


# Encapsulated Document (C.24.2)
def _document(ds: Dataset, plan: InstancePlan) -> None:
    ds.InstanceNumber = plan.number
    ds.ContentDate = ds.StudyDate
    ds.ContentTime = m.content_time(plan)
    ds.AcquisitionDateTime = f"{ds.StudyDate}{ds.StudyTime}"
    ds.BurnedInAnnotation = "YES"  # the document names the patient
    ds.DocumentTitle = DOCUMENT_TITLE
    ds.ConceptNameCodeSequence = Sequence([m.code_item(*CONCEPT)])
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    lines = [
        "dicomfab synthetic report",
        f"Patient: {plan.patient.name}  ID: {plan.patient.patient_id}",
        f"Study date: {ds.StudyDate}  Accession: {plan.study.accession_number}",
        "Not a clinical document: generated test data.",
    ]
    document = pdf_bytes(DOCUMENT_TITLE, lines)
    ds.EncapsulatedDocumentLength = len(document)
    ds.EncapsulatedDocument = document + b"\x00" * (len(document) % 2)  # OB: even length


def _pdf_string(text: str) -> bytes:
    """A PDF literal string: Latin-1 (unknown characters become ?), with ( ) \\ escaped."""
    raw = text.encode("latin-1", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def pdf_bytes(title: str, lines: list[str]) -> bytes:
    """A minimal, valid one-page PDF 1.4 showing ``lines``; deterministic (no creation date
    and no file identifier), so the same plan gives the same bytes."""
    text = [b"BT", b"/F1 16 Tf", b"72 770 Td", _pdf_string(lines[0]) + b" Tj", b"/F1 11 Tf"]
    for line in lines[1:]:
        text += [b"0 -22 Td", _pdf_string(line) + b" Tj"]
    text.append(b"ET")
    stream = b"\n".join(text) + b"\n"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"endstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Title " + _pdf_string(title) + b" /Producer (" + m.SOFTWARE.encode() + b") >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (len(objects) + 1, len(objects))
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


TEMPLATES = (
    IODTemplate(
        name="pdf",
        title="Encapsulated PDF",
        sop_class_uid=ENCAPSULATED_PDF,
        modality="DOC",
        build=build,
        summary="a one-page PDF written deterministically",
        pixels=None,
        aliases=("encapsulated-pdf", "report"),
        required=REQUIRED,
        native_only=True,
    ),
)
