"""The denoising movie (scdiff_core.denoising): frames of x̂_0 on the reference map, ending at the generated cells."""
import numpy as np
import pytest

from scdiff_core.denoising import MAX_MOVIE_CELLS, denoising_movie
from scdiff_core.errors import ScdiffError


@pytest.mark.parametrize("guidance,sampler", [("free", "ddim"), ("classifier", "ddpm")])
def test_frames_end_at_the_generated_cells(tiny_model, guidance, sampler):
    kw = dict(guidance=guidance, sampler=sampler, steps=8, seed=3)
    mv = denoising_movie(tiny_model, {"cell_type": "B"}, 40, **kw)
    same = tiny_model.generate({"cell_type": "B"}, 40, **kw)
    assert np.array_equal(mv.cells.X, same.X)  # the movie's cells are generate()'s cells
    assert mv.xy.shape == (mv.n_frames, 40, 2) and np.isfinite(mv.xy).all()
    assert np.allclose(mv.xy[-1], same.obsm["X_umap_ref"])
    assert np.all(np.diff(mv.timesteps) < 0) and mv.timesteps[-2] == 0 and mv.timesteps[-1] == -1
    assert mv.noise[0] > 0.9 and mv.noise[-1] == 0 and np.all(np.diff(mv.noise) <= 0)


def test_predictions_spread_out_as_noise_goes(tiny_model):
    """Early on the x̂_0 are near an average cell; at the end the cells are spread over their clusters.

    Compared over the first quarter of the frames, not the first alone: at t = T the x̂_0 of this
    tiny, briefly trained model amplifies its ε error (÷ √ᾱ_T ≈ 0.006), so the single first frame
    depends on how the decoder's noise was fitted."""
    mv = denoising_movie(tiny_model, {"cell_type": "any"}, 200, steps=20, seed=0)
    spread = [float(np.linalg.norm(f - f.mean(0), axis=1).mean()) for f in mv.xy]
    assert np.median(spread[:len(spread) // 4 + 1]) < spread[-1], spread


def test_refusals(tiny_model):
    with pytest.raises(ScdiffError, match=f"{MAX_MOVIE_CELLS:,}"):
        denoising_movie(tiny_model, {"cell_type": "A"}, MAX_MOVIE_CELLS + 1)
    with pytest.raises(ScdiffError, match="not a value"):
        denoising_movie(tiny_model, {"cell_type": "Z"}, 5)
    with pytest.raises(ScdiffError, match="eta"):
        denoising_movie(tiny_model, {"cell_type": "A"}, 5, eta=float("nan"))


def test_frames_are_a_subset_of_the_steps(tiny_model):
    mv = denoising_movie(tiny_model, {"cell_type": "A"}, 10, steps=30, frames=5, seed=1)
    assert mv.n_frames == 6 and mv.timesteps[0] == 999 and mv.timesteps[-2] == 0
    with pytest.raises(ScdiffError, match="frames"):
        denoising_movie(tiny_model, {"cell_type": "A"}, 10, frames=1)
