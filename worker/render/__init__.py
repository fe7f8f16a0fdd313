"""Images the worker draws itself: PNG writing, and the labelled placeholder."""

from worker.render.placeholder import render_placeholder
from worker.render.png import encode_png, solid_png

__all__ = ["encode_png", "render_placeholder", "solid_png"]
