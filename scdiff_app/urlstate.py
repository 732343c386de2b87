"""A page's settings in its URL (``st.query_params``), so a shared link or a reload reopens the same view.

Each page declares its fields (:class:`Field`: URL name, session-state key, the values allowed).
:func:`restore` runs once per browser session and page, before the page draws its widgets: it copies
valid URL values into session state (a fresh session opened from a link starts from the link's
settings; invalid or unknown values are ignored, so a hand-edited link never breaks the page).
:func:`write` replaces the URL's parameters with the page's current settings and the model's name;
Streamlit clears them itself when the user switches pages (``st.page_link``), so each page's URL
holds that page's settings only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import streamlit as st

MODEL = "model"
"""URL parameter naming the checkpoint folder (read by :func:`restore_model`)."""


@dataclass(frozen=True)
class Field:
    """One setting: its URL name, the session-state key of its widget, and what values are valid.

    ``kind`` is ``int``, ``float``, ``bool`` or ``str``; ``options`` (for ``str``) lists the valid
    values; ``lo``/``hi`` bound numbers (values outside are clipped).
    """

    name: str
    key: str
    kind: type = str
    options: Sequence[str] = ()
    lo: float | None = None
    hi: float | None = None

    def parse(self, text: str) -> Any:
        """The typed value of a URL string, or None when it is not valid for this field."""
        try:
            if self.kind is bool:
                return {"1": True, "true": True, "0": False, "false": False}.get(text.lower())
            if self.kind in (int, float):
                v = float(text)
                if v != v:  # NaN
                    return None
                v = max(self.lo, v) if self.lo is not None else v
                v = min(self.hi, v) if self.hi is not None else v
                return int(round(v)) if self.kind is int else v
        except ValueError:
            return None
        return text if text in self.options else None

    def format(self, value: Any) -> str:
        """The URL string of a value."""
        if self.kind is bool:
            return "1" if value else "0"
        if self.kind is float:
            return f"{float(value):g}"
        return str(value)


def restore(page: str, fields: Sequence[Field]) -> int:
    """Copy the URL's valid values of ``fields`` into session state, once per session and page.

    Returns
    -------
    int
        How many settings were taken from the URL (0 on every later run).
    """
    flag = f"_url_read_{page}"
    if st.session_state.get(flag):
        return 0
    st.session_state[flag] = True
    n = 0
    for f in fields:
        if f.name in st.query_params:
            v = f.parse(st.query_params[f.name])
            if v is not None:
                st.session_state[f.key] = v
                n += 1
    return n


def write(fields: Sequence[Field]) -> None:
    """Make the URL hold the picked model and the fields' current values (only those the session has)."""
    from .sessionstore import TOKEN

    model = model_name()
    params = {MODEL: model} if model else {}
    if st.session_state.get("_session_token"):  # the session's results (sessionstore) stay in the link
        params[TOKEN] = st.session_state["_session_token"]
    for f in fields:
        if f.key in st.session_state and st.session_state[f.key] is not None:
            params[f.name] = f.format(st.session_state[f.key])
    if dict(st.query_params.to_dict()) != params:
        st.query_params.from_dict(params)


def restore_model(names: Sequence[str]) -> str | None:
    """The model named by the URL if it is one of ``names`` (the first time per session), else None."""
    if st.session_state.get("_url_read_model"):
        return None
    st.session_state["_url_read_model"] = True
    name = st.query_params.get(MODEL)
    return name if name in names else None


def write_model(name: str) -> None:
    """Put the model's name in the URL (the page's own settings are left as they are)."""
    if st.query_params.get(MODEL) != name:
        st.query_params[MODEL] = name


def model_name() -> str | None:
    """The name of the model picked in the sidebar (None without models)."""
    ck = st.session_state.get("_ckpt")
    return ck.name if ck is not None else None
