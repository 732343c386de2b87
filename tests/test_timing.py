"""Generation time estimates (scdiff_core.timing) on the tiny model (accuracy is measured in
benchmarks/sampling_roofline.py, not asserted here: machines are noisy)."""
import scdiff_core.timing as timing
from scdiff_core.timing import estimate_seconds


def test_estimates_grow_with_cells_and_steps_and_are_cached(tiny_model, monkeypatch):
    calls = []
    fit = timing._fit
    monkeypatch.setattr(timing, "_fit", lambda *a: calls.append(a) or fit(*a))
    tiny_model.__dict__.pop("_timing_fits", None)
    small = estimate_seconds(tiny_model, 100, steps=10)
    big = estimate_seconds(tiny_model, 5000, steps=50)
    assert 0 <= small <= big and big > 0
    assert estimate_seconds(tiny_model, 5000, steps=100) >= big
    assert len(calls) == 1  # one probing per (guidance, sampler)
    estimate_seconds(tiny_model, 10, guidance="classifier")
    assert len(calls) == 2
    # chained makes the same network calls as free: it shares free's probe (no new timing on a switch)
    assert estimate_seconds(tiny_model, 5000, guidance="chained", steps=50) == big
    assert len(calls) == 2
    assert estimate_seconds(tiny_model, 10, sampler="ddpm", steps=10**6) == estimate_seconds(
        tiny_model, 10, sampler="ddpm", steps=tiny_model.diffusion.num_timesteps)  # the grid holds at most T steps


def test_a_real_run_rescales_later_estimates(tiny_model):
    from scdiff_core.timing import record_run

    tiny_model.__dict__.pop("_timing_scale", None)
    before = estimate_seconds(tiny_model, 1000, steps=50)
    record_run(tiny_model, 1000, 3 * before, steps=50)  # this machine ran 3x slower than probed
    assert abs(estimate_seconds(tiny_model, 1000, steps=50) - 3 * before) < 1e-9
    assert abs(estimate_seconds(tiny_model, 2000, steps=50) / estimate_seconds(tiny_model, 1000, steps=50) - 2) < 1e-9
    assert estimate_seconds(tiny_model, 1000, guidance="classifier") > 0  # other modes keep their own scale
    tiny_model.__dict__.pop("_timing_scale", None)


def test_the_probe_guides_as_many_columns_as_the_request(tiny_model, monkeypatch):
    """Classifier-free guidance costs one network pass per guided column: the probe must ask for the same."""
    asked = []
    gen = tiny_model.generate
    monkeypatch.setattr(tiny_model, "generate", lambda cond, n, **kw: asked.append(dict(cond)) or gen(cond, n, **kw))
    tiny_model.__dict__.pop("_timing_fits", None)
    assert len(tiny_model.conditions) >= 2
    for k in (1, 2, 0):
        asked.clear()
        assert estimate_seconds(tiny_model, 1000, columns=k) > 0
        assert asked and all(list(c) == tiny_model.conditions[:k] for c in asked)
    asked.clear()
    estimate_seconds(tiny_model, 10, columns=2)
    estimate_seconds(tiny_model, 10, columns=5)  # more columns than the model has: all of them, as 2
    assert asked == []  # cached
    assert len(tiny_model.__dict__["_timing_fits"]) == 3


def test_a_real_run_sets_the_pace_for_every_number_of_columns(tiny_model):
    from scdiff_core.timing import record_run

    tiny_model.__dict__.pop("_timing_scale", None)
    one, two = (estimate_seconds(tiny_model, 1000, columns=k) for k in (1, 2))
    record_run(tiny_model, 1000, 2 * two, columns=2)  # the machine ran 2x slower than the two-column probe
    assert abs(estimate_seconds(tiny_model, 1000, columns=1) - 2 * one) < 1e-9
    tiny_model.__dict__.pop("_timing_scale", None)
