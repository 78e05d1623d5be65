"""Plausible synthetic patients, derived from the seed and the dataset's identity (never from
real people)."""

from __future__ import annotations

import datetime as dt
import random

FAMILY_NAMES = (
    "Anderson Bakker Costa Dubois Eriksen Fischer Garcia Hansen Ivanova Jensen Kowalski "
    "Larsen Moreau Nielsen Olsen Petrov Quinn Rossi Schmidt Tanaka Urban Virtanen Weber Xu "
    "Yilmaz Zimmermann"
).split()
GIVEN_NAMES = (
    "Anna Birgit Clara Daniela Eva Fatima Greta Hanna Ingrid Julia Katarina Lena Maria Nora "
    "Olivia Paula Rosa Sofia Tove Ursula Vera Wanda Yasmin Zoe"
).split()


def synthetic_patient(
    namespace: str, seed: int, index: int, study_date: dt.date
) -> tuple[str, str, dt.date]:
    """(PatientName, PatientID, PatientBirthDate) for patient ``index``: a woman aged 50–75.

    All three follow the dataset's identity (``namespace``, see ``uids.dataset_identity``) as
    well as the seed, so two different specs never give one person two IDs nor one ID to two
    people. The ID has 14 digits: no collision in practice across many datasets."""
    rng = random.Random(f"patient/{namespace}/{seed}/{index}")
    name = f"{rng.choice(FAMILY_NAMES)}^{rng.choice(GIVEN_NAMES)}"
    patient_id = f"DF{rng.randrange(10**14):014d}"
    age_days = rng.randrange(50 * 365, 75 * 365)
    return name, patient_id, study_date - dt.timedelta(days=age_days)


def default_study_date(seed: int) -> dt.date:
    """A current-study date between 2021 and 2025, fixed by the seed."""
    rng = random.Random(f"date/{seed}")
    return dt.date(2021, 1, 4) + dt.timedelta(days=rng.randrange(5 * 365))


def default_study_time(seed: int, path: str) -> str:
    rng = random.Random(f"time/{seed}/{path}")
    return f"{rng.randrange(7, 18):02d}{rng.randrange(60):02d}{rng.randrange(60):02d}"


def accession_number(namespace: str, seed: int, path: str) -> str:
    """A 16-character AccessionNumber (the most SH holds), following the dataset's identity."""
    rng = random.Random(f"acc/{namespace}/{seed}/{path}")
    return f"A{rng.randrange(10**15):015d}"


def age_string(birth: dt.date | None, on: dt.date) -> str:
    """PatientAge (AS) on ``on`` in the unit modalities use: days under 4 weeks, weeks under 3
    months, months under 2 years, years from then on (a 40-day-old is ``005W``, not ``000Y``).
    Empty when the birth date is unknown or after ``on`` (an age cannot be negative)."""
    if birth is None or on < birth:
        return ""
    days = (on - birth).days
    months = (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)
    if days < 28:
        return f"{days:03d}D"
    if months < 3:
        return f"{days // 7:03d}W"
    if months < 24:
        return f"{months:03d}M"
    return f"{min(months // 12, 999):03d}Y"
