"""`scdiff trajectory --method …` with labels and files of cells, and `scdiff evaluate` on a trajectory."""
import json

import anndata as ad
import numpy as np
import pytest

from scdiff_core.cli import main


def test_trajectory_methods_and_cell_files(tiny_model_dir, tiny_model, tmp_path, capsys):
    out = tmp_path / "inv.h5ad"
    assert main(["trajectory", "--checkpoint", str(tiny_model_dir), "--column", "cell_type", "--method", "inversion",
                 "--from", "A", "--to", "B", "--points", "3", "--cells-per-point", "6", "--steps", "20",
                 "--out", str(out)]) == 0
    a = ad.read_h5ad(out)
    assert a.uns["scdiff"]["method"] == "inversion" and a.uns["scdiff"]["t_start"] == 1.0 and a.n_obs == 18
    # sets from files: generated cells (.h5ad) and training cell ids (text)
    gen = tmp_path / "gen.h5ad"
    tiny_model.generate({"cell_type": "C"}, 12, seed=4).write_h5ad(gen)
    ids = tmp_path / "ids.txt"
    train = tiny_model.config["split"]["train"]
    codes = tiny_model.reference["label_cell_type"]
    ids.write_text("cell_id\n" + "\n".join(train[i] for i in np.flatnonzero(codes == 0)[:8]) + "\n")
    out2 = tmp_path / "set.h5ad"
    assert main(["trajectory", "--checkpoint", str(tiny_model_dir), "--column", "cell_type", "--method", "inversion",
                 "--from-cells", str(ids), "--from", "A", "--to-cells", str(gen), "--points", "2",
                 "--cells-per-point", "5", "--steps", "20", "--pairing", "matched", "--out", str(out2)]) == 0
    b = ad.read_h5ad(out2)
    assert b.uns["scdiff"]["start_set_size"] == 8 and b.uns["scdiff"]["end_set_size"] == 12
    assert b.uns["scdiff"]["start_label"] == "A" and b.uns["scdiff"]["end_label"] == "any"
    out3 = tmp_path / "grad.h5ad"
    assert main(["trajectory", "--checkpoint", str(tiny_model_dir), "--column", "cell_type", "--method", "gradient",
                 "--from-cells", str(ids), "--to", "C", "--points", "2", "--cells-per-point", "4",
                 "--out", str(out3)]) == 0
    assert ad.read_h5ad(out3).uns["scdiff"]["method"] == "gradient"
    out4 = tmp_path / "manifold.h5ad"
    assert main(["trajectory", "--checkpoint", str(tiny_model_dir), "--column", "cell_type", "--method", "manifold",
                 "--from-cells", str(ids), "--to", "C", "--points", "3", "--cells-per-point", "4", "--neighbors", "8",
                 "--local-weight", "1", "--out", str(out4)]) == 0
    m = ad.read_h5ad(out4).uns["scdiff"]
    assert m["method"] == "manifold" and m["neighbors"] == 8 and m["t_start"] == 0.3 and m["local_weight"] == 1.0


@pytest.mark.parametrize("extra,msg", [
    (["--method", "inversion", "--from", "A", "--to", "B", "--scale", "nan"], "scale"),
    (["--method", "inversion", "--from", "A", "--to", "B", "--t-start", "0"], "t_start"),
    (["--method", "inversion", "--to", "B"], "--from"),
    (["--method", "inversion", "--from", "A", "--to-cells", "{tmp}/none.h5ad"], "No file"),
    (["--method", "gradient", "--from", "A", "--to", "B", "--refine", "2"], "--method inversion"),
    (["--method", "inversion", "--from", "A", "--to", "B", "--sampler", "ddpm"], "DDIM"),
    (["--method", "inversion", "--from", "A", "--to", "B", "--neighbors", "30"], "--method manifold"),
    (["--method", "manifold", "--from", "A", "--to", "B", "--neighbors", "1000"], "neighbors"),
    (["--method", "gradient", "--from", "A", "--to", "B", "--local-weight", "0.2"], "--method manifold"),
    (["--method", "manifold", "--from", "A", "--to", "B", "--local-weight", "2"], "local_weight"),
])
def test_trajectory_errors(tiny_model_dir, tmp_path, capsys, extra, msg):
    argv = ["trajectory", "--checkpoint", str(tiny_model_dir), "--column", "cell_type", "--points", "2",
            "--cells-per-point", "2", "--out", str(tmp_path / "x.h5ad")] + [e.format(tmp=tmp_path) for e in extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and msg in err and "Traceback" not in err
    assert not (tmp_path / "x.h5ad").exists()


def test_evaluate_a_trajectory(tiny_model_dir, tmp_path, capsys):
    t = tmp_path / "t.h5ad"
    assert main(["trajectory", "--checkpoint", str(tiny_model_dir), "--column", "cell_type", "--method", "inversion",
                 "--from", "A", "--to", "B", "--points", "4", "--cells-per-point", "20", "--steps", "20",
                 "--out", str(t)]) == 0
    rep = tmp_path / "r.json"
    assert main(["evaluate", "--checkpoint", str(tiny_model_dir), "--generated", str(t), "--time-key", "cell_type",
                 "--time-order", "A,B", "--out", str(rep)]) == 0
    out = capsys.readouterr().out
    assert "RF AUROC vs nearest real cells" in out and "placed order" in out
    d = json.loads(rep.read_text())
    assert len(d["realism"]) == 4 and len(d["pseudotime"]["mean_pseudotime"]) == 4
    # A cells sit at the λ=0 end of an A→B path, B cells at the λ=1 end
    assert d["time_course"]["order"] == ["A", "B"] and d["time_course"]["in_order"]
    assert main(["evaluate", "--checkpoint", str(tiny_model_dir), "--generated", str(t), "--time-key", "nope"]) == 2
