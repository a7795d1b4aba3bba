"""An optional pyinstrument profile around a benchmark's measured loop (`--profile out.html`); the summary text
goes next to it (out.txt). pyinstrument is a development tool: the benchmark runs without it when not asked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def maybe_profile(path: str | None) -> Iterator[None]:
    if not path:
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        Path(path).write_text(profiler.output_html())
        Path(path).with_suffix(".txt").write_text(profiler.output_text(unicode=False, show_all=False))
