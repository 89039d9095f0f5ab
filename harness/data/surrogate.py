"""A synthetic stand-in for OpenML's ``hls4ml_lhc_jets_hlf``, used when OpenML is out of reach.

Each jet is drawn from a small per-class physics model, then turned into the 16 real
substructure features:

* groomed mass peaks at the boson and top masses (W 80, Z 91, top 173 GeV), with a
  fraction of jets whose grooming lost a prong and which fall back to the broad low
  mass of quark and gluon jets;
* constituent multiplicity higher for gluons than quarks, highest for tops;
* N-prong substructure: the two-prong ratios (C2, D2, N2) low for W and Z, the
  three-prong top in between, one-prong quark and gluon jets high;
* the real dataset's wildly different feature scales (mass ~10-300, multiplicity
  ~10-100, ``j_c1_b2_mmdt`` ~1e-4, D2 ~0.5-5, ``j_zlogz`` negative). That spread is what
  makes the scaling exercise meaningful, so it is kept on purpose.

``OVERLAP`` widens every resolution at once; it was calibrated so that the notebook's
``full`` profile lands on the notebook's accuracies (docs/surrogate.md).
"""

from __future__ import annotations

import numpy as np

#: The 16 input features, in the order of the real dataset.
FEATURES: tuple[str, ...] = (
    "j_zlogz",
    "j_c1_b0_mmdt",
    "j_c1_b1_mmdt",
    "j_c1_b2_mmdt",
    "j_c2_b1_mmdt",
    "j_c2_b2_mmdt",
    "j_d2_b1_mmdt",
    "j_d2_b2_mmdt",
    "j_d2_a1_b1_mmdt",
    "j_d2_a1_b2_mmdt",
    "j_m2_b1_mmdt",
    "j_m2_b2_mmdt",
    "j_n2_b1_mmdt",
    "j_n2_b2_mmdt",
    "j_mass_mmdt",
    "j_multiplicity",
)
CLASSES: tuple[str, ...] = ("g", "q", "t", "w", "z")

#: Rows of the real dataset, and so of the default surrogate.
N_JETS = 830_000
#: The surrogate is one fixed dataset: its seed is not the training seed.
DATA_SEED = 20_240_607
#: Resolution multiplier (1.0 = the physics model's nominal widths).
OVERLAP = 1.0

# Per class: probability the groomed jet keeps its full prong structure, then
# (peak mass, peak width, prongs when kept).
_PEAKS = {
    "w": (0.55, 80.4, 11.0, 2),
    "z": (0.55, 91.2, 11.5, 2),
    "t": (0.60, 173.0, 22.0, 3),
}
# Broad QCD-like mass: (gamma shape, gamma scale) above a 5 GeV floor.
_QCD_MASS = {"q": (2.0, 14.0), "g": (2.3, 19.0)}
# Mean constituent multiplicity and its spread.
_MULTIPLICITY = {"g": (42.0, 12.0), "q": (34.0, 10.0), "t": (52.0, 12.0), "w": (38.0, 10.0), "z": (39.0, 10.0)}


def generate(n_jets: int = N_JETS, seed: int = DATA_SEED, overlap: float = OVERLAP) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(X, y)``: float32 features ``(n_jets, 16)`` and class labels ``(n_jets,)``.

    Deterministic for a given ``(n_jets, seed, overlap)``; classes are balanced.
    """
    if n_jets < 1:
        raise ValueError(f"n_jets must be at least 1, got {n_jets}")
    if overlap <= 0:
        raise ValueError(f"overlap must be positive, got {overlap}")
    rng = np.random.default_rng(seed)
    labels = np.array(CLASSES)[np.arange(n_jets) % len(CLASSES)]
    rng.shuffle(labels)
    mass, prongs = _mass_and_prongs(rng, labels, overlap)
    multiplicity = _multiplicity(rng, labels, prongs, overlap)
    X = _features(rng, mass, prongs, multiplicity, labels == "g", overlap)
    return X.astype(np.float32), labels


def _mass_and_prongs(rng: np.random.Generator, labels: np.ndarray, overlap: float) -> tuple[np.ndarray, np.ndarray]:
    n = len(labels)
    mass = np.empty(n)
    prongs = np.ones(n)
    for cls, (shape, scale) in _QCD_MASS.items():
        sel = labels == cls
        mass[sel] = 5.0 + rng.gamma(shape, scale, sel.sum())
    for cls, (p_kept, peak, width, n_prong) in _PEAKS.items():
        sel = np.flatnonzero(labels == cls)
        kept = rng.random(sel.size) < p_kept
        mass[sel] = np.where(
            kept,
            rng.normal(peak, width * overlap, sel.size),
            5.0 + rng.gamma(2.5, 16.0, sel.size),
        )
        prongs[sel] = n_prong if cls != "t" else np.where(kept, n_prong, 1)
        if cls == "t":  # a top whose b-jet escaped the groomed jet looks like a W
            lost_b = ~kept & (rng.random(sel.size) < 0.5)
            mass[sel[lost_b]] = rng.normal(80.4, 10.0 * overlap, lost_b.sum())
            prongs[sel[lost_b]] = 2
    return np.clip(mass, 0.5, None), prongs


def _multiplicity(rng: np.random.Generator, labels: np.ndarray, prongs: np.ndarray, overlap: float) -> np.ndarray:
    mult = np.empty(len(labels))
    for cls, (mean, spread) in _MULTIPLICITY.items():
        sel = labels == cls
        mult[sel] = rng.normal(mean, spread * overlap, sel.sum())
    mult += 3.0 * (prongs - 1)
    return np.clip(np.rint(mult), 3, None)


def _features(
    rng: np.random.Generator,
    mass: np.ndarray,
    prongs: np.ndarray,
    multiplicity: np.ndarray,
    gluon: np.ndarray,
    overlap: float,
) -> np.ndarray:
    n = len(mass)

    def smear(width: float) -> np.ndarray:
        return np.exp(rng.normal(0.0, width * overlap, n))

    two_prong = prongs == 2
    three_prong = prongs == 3
    # Jet "width": wider for gluons and multi-prong jets, and for heavy jets.
    width = (0.22 + 0.07 * gluon + 0.06 * (prongs - 1) + 0.0004 * mass) * smear(0.12)
    c1_b0 = width
    c1_b1 = 0.25 * width**2 * smear(0.25) + 0.002 * mass / 100
    c1_b2 = 6e-4 * width**3 * smear(0.35) + 2e-5
    # Two-prong discriminants: low for W/Z, intermediate for top, high for q/g.
    prong_score = np.where(two_prong, 0.45, np.where(three_prong, 0.75, 1.0))
    c2_b1 = 0.22 * prong_score * smear(0.20)
    c2_b2 = 0.08 * prong_score**1.5 * smear(0.25)
    d2_b1 = 2.6 * prong_score**1.3 * smear(0.9) + 0.3
    d2_b2 = 2.2 * prong_score**1.6 * smear(1.0) + 0.4
    d2_a1_b1 = 1.8 * prong_score * smear(0.9) * (1 + 0.3 * three_prong)
    d2_a1_b2 = 1.5 * prong_score**1.2 * smear(1.0) * (1 + 0.3 * three_prong)
    m2_b1 = 0.06 * np.where(gluon, 1.2, 1.0) * prong_score * smear(0.30)
    m2_b2 = 0.025 * prong_score * smear(0.35)
    n2_b1 = 0.34 * prong_score**0.8 * smear(0.15)
    n2_b2 = 0.30 * prong_score**0.9 * smear(0.18)
    zlogz = -(1.3 + 0.022 * multiplicity) * smear(0.12)
    columns = (
        zlogz,
        c1_b0,
        c1_b1,
        c1_b2,
        c2_b1,
        c2_b2,
        d2_b1,
        d2_b2,
        d2_a1_b1,
        d2_a1_b2,
        m2_b1,
        m2_b2,
        n2_b1,
        n2_b2,
        mass,
        multiplicity,
    )
    return np.column_stack(columns)
