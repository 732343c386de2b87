"""Denoising page (for teaching): watch a batch of cells travel from pure noise to their cluster."""
from scdiff_app.navigation import require_frame

require_frame()  # first: on a fresh server Streamlit may have started this script on its own

import streamlit as st  # noqa: E402

from scdiff_core.common import ANY  # noqa: E402
from scdiff_core.denoising import MAX_MOVIE_CELLS, denoising_movie  # noqa: E402
from scdiff_core.guidance import GUIDANCE, modes_for  # noqa: E402

from scdiff_app.bundle import require_model  # noqa: E402
from scdiff_app.feedback import Progress, run_safely  # noqa: E402
from scdiff_app.figures.denoising import denoising_figure, noise_figure  # noqa: E402
from scdiff_app.charts import chart  # noqa: E402
from scdiff_app.layout import page_columns  # noqa: E402

EXPLAIN = """
**What you are watching.** A diffusion model makes a cell by starting from pure random noise and
removing a little noise at each step. At every step the network looks at the noisy cells and
guesses the clean cells hidden in them; those guesses are what the map shows, placed among the real
training cells (grey).

* **First steps**: the cells are almost pure noise, so the guesses are rough: without guidance they
  land anywhere on the map. (In theory the best guess from pure noise is an average cell; the
  network's small errors are magnified there, which is why the dots jump about.)
* **Middle steps**: enough signal is left to tell cell types apart; the guesses firm up and gather
  in clusters.
* **Last steps**: only fine detail changes; the dots settle where real cells of their kind are. The
  last frame is the generated cells.

**Guidance** tilts every step towards the conditions you asked for. Compare with the same noise run
without guidance (strength 0): the unguided dots end in any cluster, the guided ones in the one asked
for, which they head for from the first steps; a stronger strength holds them there more tightly.
"""

st.title("Watch the denoising")
b = require_model()
m = b.model
kh = b.widget_key
if not b.has_map:
    st.warning("This checkpoint holds no reference map, so the denoising cannot be shown on a map. Re-train it.")
    st.stop()
defaults = {g: m.default_scales(g) for g in GUIDANCE}
ctrl, view = page_columns()


@st.fragment
def denoise_controls() -> None:  # a name of its own: fragment ids derive from it
    st.markdown("**Conditions** — a value, or *any* to leave a column free")
    for i, col in enumerate(m.conditions):
        key = f"d_{kh}_{col}"
        if key not in st.session_state and i == 0:
            counts = m.config.get("counts", {}).get(col, {})
            st.session_state[key] = max(counts, key=counts.get) if counts else ANY
        st.selectbox(col, [ANY] + b.vocab[col], persist_state="session", key=key)
    mode = st.radio("Guidance", modes_for(1), horizontal=True, persist_state="session", key=f"d_{kh}_mode",  # one strength
                    format_func=lambda x: {"free": "classifier-free"}.get(x, x),
                    help="  \n".join(f"**{k}**: {g.description}" for k, g in GUIDANCE.items()))
    first = m.conditions[0]
    st.slider("Guidance strength", 0.0, 10.0, float(defaults[mode][first]), 0.25, persist_state="session",
              key=f"d_{kh}_scale_{mode}",
              help="The same strength for every column given a value (checkpoint default for "
                   f"{first}: {defaults[mode][first]:g}).")
    st.toggle("Also run the same noise without guidance", value=True, persist_state="session", key=f"d_{kh}_cmp")
    c1, c2 = st.columns(2)
    c1.number_input("Cells", 50, MAX_MOVIE_CELLS, 500, 50, persist_state="session", key=f"d_{kh}_n")
    c2.number_input("Steps", 10, 200, 50, 10, persist_state="session", key=f"d_{kh}_steps",
                    help="DDIM steps; about 25 of them are shown as frames.")
    st.number_input("Seed", 0, 2**31 - 1, 0, 1, persist_state="session", key=f"d_{kh}_seed",
                    help="Same seed, same noise, same cells.")


def run_clicked() -> None:
    ss = st.session_state
    req = {c: ss.get(f"d_{kh}_{c}", ANY) for c in m.conditions}
    mode = ss.get(f"d_{kh}_mode", "free")
    w = float(ss.get(f"d_{kh}_scale_{mode}", defaults[mode][m.conditions[0]]))
    n, steps, seed = int(ss.get(f"d_{kh}_n", 500)), int(ss.get(f"d_{kh}_steps", 50)), int(ss.get(f"d_{kh}_seed", 0))
    runs = [(f"guided (strength {w:g})", w)] + ([("no guidance (strength 0)", 0.0)] if ss.get(f"d_{kh}_cmp", True) else [])
    movies = []
    for name, scale in runs:
        prog = Progress(f"Denoising {n:,} cells, {name}")
        ok, mv = run_safely("The denoising run", lambda s=scale: denoising_movie(
            m, req, n, guidance=mode, scales=s, steps=steps, seed=seed, progress=prog))
        prog.done()
        if not ok:
            return
        movies.append((name, mv))
    asked = ", ".join(f"{c} = {v}" for c, v in req.items() if v != ANY) or "no condition"
    run = ss.get("d_runs", 0) + 1
    ss["d_runs"] = run
    ss["d_result"] = {"model": kh, "movies": movies,
                      "title": f"Run {run}: {n:,} cells, {asked}, {mode} guidance, {steps} DDIM steps, seed {seed}"}


with ctrl:
    denoise_controls()
    if st.button("Run denoising", type="primary", key="d_go", icon=":material/play_arrow:", width="stretch"):
        run_clicked()
    with st.expander("What am I looking at?", expanded=False):
        st.markdown(EXPLAIN)
with view:
    res = st.session_state.get("d_result")
    if res is None or res["model"] != kh:
        st.info("Pick conditions and press **Run denoising**; then press ▶ play under the map.")
        st.markdown(EXPLAIN)
    else:
        chart(denoising_figure(b, res["movies"], res["title"]), "denoising_map", key="d_fig")
        st.caption("Each dot is one cell's predicted clean state at that step, placed among the training cells "
                   "(grey) at the weighted mean of its 15 nearest training cells; the last frame, the generated cells, "
                   "as the Generate map places them (pulled onto the map's clusters, a small shift). "
                   "Press ▶ play, or drag the slider.")
        chart(noise_figure(res["movies"][0][1]), "denoising_noise", key="d_noise")
