"""The Gaussian baseline generator (scdiff_core.metrics.baselines)."""
from __future__ import annotations

import numpy as np
import pytest
from metrics_synthetic import N_GENES

from scdiff_core.errors import ScdiffError
from scdiff_core.metrics import evaluate, gaussian_baseline


def test_gaussian_baseline(data, reference, fast_rf):
    gen = gaussian_baseline(data["train"], "cell_type", {"a": 30, "c": 20}, seed=0)
    assert gen.shape == (50, N_GENES)
    assert list(gen.var_names) == list(data["train"].var_names)
    assert gen.obs["cell_type"].value_counts().to_dict() == {"a": 30, "c": 20}
    assert (np.asarray(gen.X) >= 0).all()
    rep = evaluate(gen, train=data["train"], test=data["test"], control=None, label_key="cell_type",
                   reference=reference, per_label=False)
    assert rep.summary().iloc[0]["label_fidelity"] > 0.9
    with pytest.raises(ScdiffError, match="do not occur"):
        gaussian_baseline(data["train"], "cell_type", {"zzz": 3})
