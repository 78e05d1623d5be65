"""What an IOD module provides: an ``IODTemplate`` registered under a short name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset

from dicomfab.builder.pixels.image import PixelImage
from dicomfab.studyspec.models import Content, PixelOptions

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan

Builder = Callable[["InstancePlan", PixelImage | None], Dataset]


@dataclass(frozen=True)
class ValueCount:
    """How many values an IOD's module requires of a multi-valued attribute, beyond the
    dictionary's VM: at least ``least`` (at most ``most``), the first ``filled`` non-empty."""

    least: int
    most: int | None = None
    filled: int = 0


@dataclass(frozen=True)
class IODTemplate:
    """One IOD we can emit. ``build`` returns the dataset with every module filled in from the plan
    (including the Image Pixel attributes, but not PixelData itself, which the encoder adds)."""

    name: str
    title: str
    sop_class_uid: str
    modality: str
    build: Builder
    pixels: PixelOptions | None  # defaults; None: the IOD has no pixel data (Encapsulated PDF)
    summary: str = ""  # what dicomfab writes, in a line (docs/iods.md)
    default_views: tuple[str, ...] = ()
    breast: bool = False  # instances carry a mammography view and laterality
    # takes mammography views without requiring them (DX, CR): an instance with a view, or with
    # Modality MG, is a breast image (laterality, breast anatomy; Modality MG unless tags say)
    breast_views: bool = False
    multiframe: bool = False
    aliases: tuple[str, ...] = ()
    required: frozenset[str] = field(default_factory=frozenset)  # Type 1/2 keywords
    allowed_bits_stored: tuple[int, int] = (1, 16)
    native_only: bool = False  # no encapsulated transfer syntaxes (e.g. no pixel data)
    # the compressed transfer syntaxes an IOD that encodes its own pixel data (SEG) is written in;
    # () when the encoder takes every one the pixels allow
    compressed_syntaxes: tuple[str, ...] = ()
    # checked at validate by dicomfab.builder.constraints (refused unless permissive):
    photometrics: tuple[str, ...] = ("MONOCHROME1", "MONOCHROME2")  # allowed (0028,0004)
    bits_allocated: tuple[int, ...] = (8, 16)  # allowed (0028,0100)
    modalities: tuple[str, ...] = ()  # allowed Modality (0008,0060) given as a tag; () any
    # other attributes whose values the IOD enumerates: keyword → allowed values given as a tag
    enumerated: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # multi-valued attributes whose number of values the IOD's modules fix (given as a tag)
    value_counts: dict[str, ValueCount] = field(default_factory=dict)
    forbidden: frozenset[str] = field(default_factory=frozenset)  # keywords it does not allow
    # the builder writes BodyPartExamined BREAST with an ImageLaterality the IOD does not require
    # (a breast MR, a digitised film): without ImageLaterality, Laterality is then Type 2C
    breast_body_part: bool = False
    frame_laterality: bool = False  # laterality in the functional groups (FrameLaterality)
    # ViewCodeSequence items hold ViewModifierCodeSequence as Type 2 (DX Positioning, C.8.11.5.1.1,
    # and C.8.11.7 for mammography); elsewhere Type 3 (present means at least one item)
    view_modifier_type2: bool = False
    # a derived object (SR, SEG, GSPS, KOS, AI capture): it refers to other instances
    # (``InstancePlan.references``; a spec's ``references`` is refused elsewhere) and is not an
    # image the default reference ``images`` picks
    derived: bool = False
    content_fields: frozenset[str] = frozenset()  # the spec ``content`` fields the IOD reads
    # problems with the merged ``content`` the IOD finds at validate: (field, what, nearest choice)
    check_content: Callable[[Content], list[tuple[str, str, str | None]]] | None = None
    # problems of a derived instance (its resolved references, its content) found at validate,
    # once the whole plan exists: (spec path, what, nearest valid choice) each
    check_derived: Callable[[InstancePlan], list[tuple[str, str, str | None]]] | None = None
    # a multi-frame IOD whose builder honours ``InstancePlan.concatenation`` (pixels.concatenation)
    concatenation: bool = False
