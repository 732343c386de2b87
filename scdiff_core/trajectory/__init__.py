"""Trajectories: continuous paths of generated cells between two cell states or two sets of cells.

Three methods, registered in :data:`METHODS` (the library, ``scdiff trajectory --method`` and the
app read it):

* ``gradient`` — **Gradient Interpolation** (scDiffusion; :mod:`.gradient`): start cells noised
  part-way and denoised under guidance mixed from A to B.
* ``inversion`` — **inversion paths** (:mod:`.inversion`): cells of both ends DDIM-inverted to
  noise, the noises joined by slerp, the condition mixed, every point decoded — each intermediate
  is a sample of the model.
* ``manifold`` — **paths through real cells** (:mod:`.manifold`): each start cell joined to an end
  cell by the shortest chain of training cells in their expression-PCA neighbour graph; points
  along the chain lightly noised and re-drawn by the model under the two ends' mix and the labels of
  the real cells around them.

Ends are labels or sets of cells (:mod:`.sets`, :func:`cell_set`). The default method
(:data:`DEFAULT_METHOD`, ``manifold``) was chosen by measurement on paul15 validation cells
(docs/benchmarks_trajectory.md): its intermediates are the closest to real intermediate cells.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import anndata as ad

from ..errors import ScdiffError
from .gradient import gradient_interpolation
from .inversion import inversion_path, slerp  # noqa: F401
from .manifold import manifold_path
from .sets import START_CELLS, CellSet, cell_set, label_vectors  # noqa: F401


@dataclass(frozen=True)
class TrajectoryMethod:
    """A way to draw a path: ``run(model, column, start, end, **options) -> AnnData``.

    ``title`` names it in menus; ``description`` is one sentence a biologist understands;
    ``default_guidance``, ``default_t_start`` and ``default_steps`` are its own defaults.
    """

    name: str
    title: str
    description: str
    run: Callable[..., ad.AnnData]
    default_guidance: str
    default_t_start: float
    default_steps: int = 50
    default_scales: tuple = ()  # ((guidance, scale), …): the method's own strength; else the checkpoint's


METHODS: dict[str, TrajectoryMethod] = {
    "manifold": TrajectoryMethod(
        "manifold", "Path through real cells",
        "Each start cell is linked to an end cell by the shortest chain of similar real cells between them; "
        "points along that chain are lightly blurred and re-drawn by the model, half as the mix of the two ends and "
        "half as the real cells around them are labelled, so the path passes through the intermediate states that "
        "exist in the data.",
        manifold_path, "free", 0.3),
    "inversion": TrajectoryMethod(
        "inversion", "Inversion path",
        "Real cells of both ends are traced back to the noise they would be generated from; the path walks "
        "between those two noises and lets the model generate a cell at every step, so each intermediate is a "
        "cell the model can make.",
        inversion_path, "free", 1.0, default_scales=(("free", 2.0),)),
    "gradient": TrajectoryMethod(
        "gradient", "Gradient Interpolation",
        "Start cells are partly blurred with noise and then re-sharpened while being pushed more and more "
        "towards the end state (scDiffusion's method); intermediates mix both states' features.",
        gradient_interpolation, "classifier", 0.6),
}

DEFAULT_METHOD = "manifold"


def trajectory(model, column: str, start, end, *, method: str | None = None, **options) -> ad.AnnData:
    """A path of generated cells from ``start`` to ``end`` along ``column`` with a registered method.

    Parameters
    ----------
    model
        A loaded :class:`~scdiff_core.model.SCDiffModel`.
    column, start, end
        The condition column and the two ends (values of it, or :func:`cell_set` / cell ids / AnnData).
    method
        A key of :data:`METHODS` (default :data:`DEFAULT_METHOD`; ``inversion`` for a gene-space
        checkpoint, which stores no training cells in its diffusion space).
    options
        The method's options (:func:`~.inversion.inversion_path`, :func:`~.gradient.gradient_interpolation`);
        ``guidance``, ``t_start``, ``steps`` (and, where it has one, ``scale``) default to the method's own;
        inversion paths use classifier-free strength 2 (measured on paul15 validation cells:
        docs/benchmarks_trajectory.md), other strengths come from the checkpoint.
    """
    if method is None:  # gene-space checkpoints store no training cells to walk through
        method = DEFAULT_METHOD if "space" in model.reference else "inversion"
    if method not in METHODS:
        raise ScdiffError(f"Unknown trajectory method {method!r}: use one of "
                          + "; ".join(f"'{k}' ({m.title})" for k, m in METHODS.items()) + ".")
    m = METHODS[method]
    unknown = sorted(set(options) - set(inspect.signature(m.run).parameters))
    if unknown:
        raise ScdiffError(f"The {m.title} method has no option {unknown[0]!r}.")
    for k, default in (("guidance", m.default_guidance), ("t_start", m.default_t_start), ("steps", m.default_steps)):
        if options.get(k) is None:
            options[k] = default
    if options.get("scale") is None and options["guidance"] in dict(m.default_scales):
        options["scale"] = dict(m.default_scales)[options["guidance"]]
    return m.run(model, column, start, end, **options)
