"""Downloads of a result: .h5ad and CSV files, and the buttons offering them."""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st


def h5ad_bytes(adata) -> bytes:
    """The cells as an .h5ad file (categorical obs columns with string categories)."""
    fd, tmp = tempfile.mkstemp(suffix=".h5ad")
    os.close(fd)
    try:
        out = adata.copy()
        for c in out.obs.columns:  # h5ad needs string categories
            if isinstance(out.obs[c].dtype, pd.CategoricalDtype):
                out.obs[c] = out.obs[c].astype(str).astype("category")
        out.write_h5ad(tmp)
        return Path(tmp).read_bytes()
    finally:
        os.unlink(tmp)


def csv_bytes(adata) -> bytes:
    """obs (conditions, predicted labels, λ), reference-map coordinates, then log-normalized expression."""
    df = adata.obs.copy()
    df.index.name = "cell"
    if "X_umap_ref" in adata.obsm:
        df["umap_ref_1"], df["umap_ref_2"] = adata.obsm["X_umap_ref"][:, 0], adata.obsm["X_umap_ref"][:, 1]
    X = pd.DataFrame(np.asarray(adata.X), index=adata.obs_names, columns=adata.var_names)
    out = pd.concat([df, X.round(4)], axis=1)
    out.index.name = "cell"  # concat drops the name when its parts' index names differ
    return out.to_csv().encode()


def safe_filename(s: str) -> str:
    """``s`` with only letters, digits, '.', '_' and '-' (at most 80 characters; 'cells' if nothing is left)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("_")[:80] or "cells"


def download_buttons(rec: dict, key: str) -> None:
    """.h5ad and CSV download buttons for a result (files made only when clicked)."""
    a = rec["adata"]
    base = safe_filename(rec["name"])
    c1, c2 = st.columns(2)
    c1.download_button("Download .h5ad", data=lambda: h5ad_bytes(a), file_name=f"{base}.h5ad",
                       mime="application/octet-stream", key=f"dl_h5_{key}", icon=":material/download:",
                       on_click="ignore")
    c2.download_button("Download CSV", data=lambda: csv_bytes(a), file_name=f"{base}.csv", mime="text/csv",
                       key=f"dl_csv_{key}", icon=":material/download:", on_click="ignore",
                       help="One row per cell: conditions, predicted labels, reference-map coordinates, "
                            "then log-normalized expression of every gene.")
