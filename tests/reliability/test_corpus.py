"""Every input of the corpus (tests/reliability/corpus_*.py) is refused clearly: one ``error:``
line and exit code 2 (or a ScdiffError), no traceback, no hang, nothing written, no user file touched."""
from __future__ import annotations

import signal

import pytest

import corpus

corpus.load_all()
NAMES = sorted(corpus.CASES)


def test_the_corpus_is_big_enough():
    assert len(NAMES) >= 40


@pytest.mark.parametrize("name", NAMES)
def test_refused_clearly(name, tiny_model_dir, tmp_path):
    def hang(*_):
        raise TimeoutError(f"{name} ran past 60 s")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(60)
    try:
        flags, err = corpus.run_case(name, tmp_path, tiny_model_dir)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert not any(flags.values()), f"{name}: {[k for k, v in flags.items() if v]}\n{err}"
