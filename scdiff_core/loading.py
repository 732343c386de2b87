"""From a checked checkpoint (config + tensors) to networks, after checking that they fit together.

:func:`check_config` bounds every size a config asks for and checks its parts against each other
(conditions, vocabularies, genes, classifiers, schedule, guidance defaults); :func:`build` then
builds each network first on the ``meta`` device (no memory) and compares its parameter shapes
with the stored tensors, so an extended vocabulary, a changed width or an absurd size is refused
with a message before anything is allocated. Only then are the real networks built and loaded.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import torch

from .errors import CheckpointError, ScdiffError
from .validate import small_tree

MAX_DIM = 2**17
"""Largest width, gene count or code size a checkpoint config may ask for."""
MAX_LIST = 64
"""Longest list of layer widths."""
MAX_TIMESTEPS = 100_000


def _bad(directory, msg: str) -> CheckpointError:
    return CheckpointError(f"{directory}/config.json {msg} Restore the checkpoint or re-train it.")


def _check_hparams(obj: Any, where: str, directory) -> None:
    """Numbers finite and at most MAX_DIM, lists short: nothing absurd reaches a constructor."""
    try:
        small_tree(obj, where, MAX_DIM, MAX_LIST)
    except ScdiffError as e:
        raise _bad(directory, f"asks for something scdiff does not build: {e}") from None


def _unique_strings(v, what: str, directory) -> list[str]:
    if not isinstance(v, list) or not v or not all(isinstance(x, str) for x in v) or len(set(v)) != len(v):
        raise _bad(directory, f"has a damaged {what} (it must be a list of distinct names).")
    return v


def _check_labels(cfg: dict, directory) -> None:
    conds = _unique_strings(cfg.get("conditions"), "list of conditions", directory)
    vocab = cfg.get("vocab")
    if not isinstance(vocab, dict) or set(vocab) != set(conds):
        raise _bad(directory, "has a vocabulary that does not match its condition columns.")
    for c in conds:
        _unique_strings(vocab[c], f"vocabulary of {c!r}", directory)
    counts = cfg.get("counts") or {}
    if not isinstance(counts, dict) or any(not isinstance(counts.get(c, {}), dict) or set(counts.get(c, {})) - set(vocab[c])
                                           for c in conds):
        raise _bad(directory, "counts cells of label values its vocabulary does not have.")
    for combo in cfg.get("combinations") or []:
        if not isinstance(combo, list) or len(combo) != len(conds) or any(v not in vocab[c] for c, v in zip(conds, combo)):
            raise _bad(directory, f"lists a training combination {combo!r} that its vocabulary does not have.")
    for row in cfg.get("combination_counts") or []:
        if (not isinstance(row, list) or len(row) != len(conds) + 1 or any(v not in vocab[c] for c, v in zip(conds, row))
                or not isinstance(row[-1], int) or isinstance(row[-1], bool) or row[-1] < 0):
            raise _bad(directory, f"counts the cells of a training combination {row!r} its vocabulary does not have.")
    for c, hp in (cfg.get("classifiers") or {}).items():
        if c not in vocab or not isinstance(hp, dict) or hp.get("n_classes") != len(vocab[c]):
            raise _bad(directory, f"has a classifier for {c!r} whose classes do not match the vocabulary.")


def _check_numbers(cfg: dict, directory) -> None:
    d = cfg.get("diffusion")
    if not isinstance(d, dict) or d.get("schedule") not in ("linear", "cosine") \
            or not isinstance(d.get("timesteps"), int) or not 2 <= d["timesteps"] <= MAX_TIMESTEPS:
        raise _bad(directory, "has a damaged diffusion schedule (schedule linear/cosine, 2 or more timesteps).")
    g = cfg.get("guidance_defaults")
    if not isinstance(g, dict) or not all(k in g for k in ("free", "classifier")):
        raise _bad(directory, "has no guidance defaults.")
    for k, v in g.items():
        if v is None and k == "classifier_t_max":
            continue
        if k == "calibrated":  # per-column defaults from calibration.py: {mode: {column: strength}}
            from .calibration import calibrated_defaults

            bad = [(m, c, s) for m, cols in calibrated_defaults(cfg).items() for c, s in cols.items()
                   if c not in cfg.get("conditions", []) or isinstance(s, bool) or not isinstance(s, (int, float))
                   or not math.isfinite(s) or abs(s) > 50]
            if not isinstance(v, dict) or bad:
                raise _bad(directory, f"has calibrated guidance defaults that are not numbers from -50 to 50 "
                                      f"for its condition columns ({bad[:1] or type(v).__name__}).")
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or abs(v) > 50:
            raise _bad(directory, f"has guidance default {k} = {v!r} (a number from -50 to 50 is needed).")
    if not isinstance(cfg.get("space_dim"), int) or not 1 <= cfg["space_dim"] <= MAX_DIM:
        raise _bad(directory, f"has space_dim = {cfg.get('space_dim')!r}.")
    bb = cfg.get("backbone")
    if not isinstance(bb, dict) or not isinstance(bb.get("name"), str) or not isinstance(bb.get("hparams"), dict):
        raise _bad(directory, "names no backbone.")
    data = cfg.get("data")
    if not isinstance(data, dict) or data.get("kind") not in ("counts", "lognorm"):
        raise _bad(directory, "does not say what kind of data the model was trained on.")
    split = cfg.get("split")
    if not isinstance(split, dict) or not all(isinstance(split.get(k), list) for k in ("train", "val", "test")):
        raise _bad(directory, "has a damaged split.")


def check_config(cfg: dict, directory) -> None:
    """Every size bounded, every part consistent with the others (before any network is built)."""
    _unique_strings(cfg.get("genes"), "gene list", directory)
    _check_labels(cfg, directory)
    _check_numbers(cfg, directory)
    for key, part in (("autoencoder", cfg.get("autoencoder")), ("backbone.hparams", cfg["backbone"]["hparams"]),
                      ("classifiers", cfg.get("classifiers"))):
        _check_hparams(part, key, directory)
    ae = cfg.get("autoencoder")
    if ae is not None and (not isinstance(ae, dict) or ae.get("n_genes") != len(cfg["genes"])):
        raise _bad(directory, "has an autoencoder for another number of genes than it lists.")


def _fit(make: Callable[[], torch.nn.Module], tensors: Mapping[str, torch.Tensor], prefix: str,
         what: str, directory) -> torch.nn.Module:
    """Build on meta, compare shapes with the stored tensors, then build for real and load."""
    try:
        with torch.device("meta"):
            probe = make()
    except (TypeError, ValueError, KeyError, RuntimeError) as e:
        raise _bad(directory, f"describes a {what} this version cannot build ({type(e).__name__}: {e}).") from None
    stored = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    want = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in stored.items()}
    if want != have:
        diff = sorted(set(want) ^ set(have)) or [k for k in want if want[k] != have[k]]
        k = diff[0]
        raise CheckpointError(f"{directory}: the {what} in config.json does not fit its weights ({prefix}{k}: config "
                              f"needs {want.get(k)}, weights hold {have.get(k)}); config.json was edited or the "
                              f"files are from different checkpoints. Restore or re-train it.")
    module = make()
    module.load_state_dict(stored, strict=True)
    return module.eval()


def build(cfg: dict, w: Mapping[str, Mapping[str, torch.Tensor]], directory):
    """(autoencoder or None, denoiser, classifiers, stats, reference) from a checked checkpoint."""
    from .autoencoder import Autoencoder
    from .backbones import build_backbone
    from .guidance import NoiseClassifier

    check_config(cfg, directory)
    need = {"denoiser", "stats"} | ({"autoencoder"} if "autoencoder" in cfg else set()) \
        | ({"classifiers"} if cfg.get("classifiers") else set())
    if need - set(w):
        raise _bad(directory, f"lists no {', '.join(sorted(need - set(w)))} weights.")
    ae = None
    if "autoencoder" in cfg:
        ae = _fit(lambda: Autoencoder(**cfg["autoencoder"]), w["autoencoder"], "ae.", "autoencoder", directory)
    bb = cfg["backbone"]
    n_classes = [len(cfg["vocab"][c]) for c in cfg["conditions"]]
    den = _fit(lambda: build_backbone(bb["name"], cfg["space_dim"], n_classes, **bb["hparams"]),
               w["denoiser"], "denoiser.", f"{bb['name']} denoiser", directory)
    clfs = {c: _fit(lambda hp=hp: NoiseClassifier(**hp), w["classifiers"], f"{c}.", f"classifier of {c!r}", directory)
            for c, hp in (cfg.get("classifiers") or {}).items()}
    stats = {k: v.numpy() for k, v in w["stats"].items()}
    ref = {k: v.numpy() for k, v in w.get("reference", {}).items()}
    for c, n in zip(cfg["conditions"], n_classes):
        codes = ref.get(f"label_{c}")
        if codes is not None and codes.size and (codes.min() < 0 or codes.max() >= n):
            raise _bad(directory, f"has {n} values of {c!r}, but its stored cells use label codes up to {codes.max()}.")
    if "pca_mean" in ref and len(ref["pca_mean"]) != len(cfg["genes"]):
        raise _bad(directory, "lists another number of genes than its stored reference cells have.")
    if "gene_mean" in stats and len(stats["gene_mean"]) != len(cfg["genes"]):
        raise _bad(directory, "lists another number of genes than its stored gene statistics have.")
    return ae, den, clfs, stats, ref
