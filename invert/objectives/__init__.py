"""Objectives: what a fit through a classifier maximizes, written as lucid and lucent write it.

    goal = unit("blocks.5:3") - 50 * diversity("blocks.5") + 1e-3 * tv()
    energy = Hooked(loaded, goal, transform=standard())     # what `engine.fit` minimizes: −goal

An objective is a number to MAXIMIZE (lucid's convention), computed from the features of the layers it names
(`layers`) and from the pixels being fitted; objectives add, subtract and scale like numbers. `Hooked` binds one
to a classifier: it checks every term against the model, hooks the union of their layers once and runs ONE
forward per step, under one draw of the random transforms, however many terms there are. Written as text (the
command line's `--objective`, a spec's `objectives`), `parse` reads the same algebra over the registered terms
(`register` adds one).
"""
from .algebra import STATISTICS, Features, Objective, Scaled, Sum
from .expression import TERMS, parse, register
from .hooked import Hooked, layer_shapes
from .terms import (BatchNormStatistics, Channel, Diversity, FeatureMatch, PixelPenalty, Projection, UnitTerm,
                    alpha_norm, bn_statistics, channel, direction, diversity, feature_match, top_hinge, tv, unit)

__all__ = ["STATISTICS", "BatchNormStatistics", "Channel", "Diversity", "FeatureMatch", "Features", "Hooked",
           "Objective", "PixelPenalty", "Projection", "Scaled", "Sum", "UnitTerm", "alpha_norm", "bn_statistics",
           "TERMS", "channel", "direction", "diversity", "feature_match", "layer_shapes", "parse", "register",
           "top_hinge", "tv", "unit"]
