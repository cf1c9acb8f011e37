"""invert: fit image priors (DIP, Deep Decoder, TV, pixels) to energies — restoration and model inversion.

The engine is `fit(prior, energy, config)`; energies live in `energies`, measurement operators in
`physics`, metrics in `metrics`. Priors are in the sibling package `priors`.
"""
from .energies import DataFidelity, Energy, TotalVariation, denoising, inpainting, reconstruction, super_resolution
from .engine import FitConfig, FitResult, fit

__version__ = "0.1.0"

__all__ = [
    "DataFidelity",
    "Energy",
    "FitConfig",
    "FitResult",
    "TotalVariation",
    "denoising",
    "fit",
    "inpainting",
    "reconstruction",
    "super_resolution",
    "__version__",
]
