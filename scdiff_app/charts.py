"""Every chart of the app: the plotly chart (its camera button saves an SVG) and a PDF of it beside.

A figure for a paper should not need a screenshot: the SVG comes from plotly's toolbar
(:func:`~scdiff_app.figures.style.plot_config`), the PDF from :func:`~scdiff_app.figures.export.figure_pdf`
(matplotlib, vector even for WebGL maps), made only when the button is pressed.
"""
from __future__ import annotations

import streamlit as st

from .figures.export import figure_pdf
from .figures.style import plot_config


def chart(fig, name: str, *, key: str, where=None, **kwargs):
    """``where.plotly_chart(fig, …)`` with the app's config, then a *PDF* download button; returns
    what ``plotly_chart`` returns (the selection event when ``on_select`` is given)."""
    where = where if where is not None else st
    event = where.plotly_chart(fig, key=key, config=plot_config(name), **kwargs)
    safe = plot_config(name)["toImageButtonOptions"]["filename"]
    where.download_button("PDF", data=lambda: figure_pdf(fig), file_name=f"{safe}.pdf", mime="application/pdf",
                          key=f"{key}_pdf", on_click="ignore", icon=":material/picture_as_pdf:", type="tertiary",
                          help="This figure as a vector PDF, for papers (the camera icon on the chart saves an SVG).")
    return event
