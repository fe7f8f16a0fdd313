"""Controls removed from prompts: NUL, C0/C1 controls and the bidi controls."""

from common.prompt.markup import neutralise, strip_controls


def test_nul_and_bidi_controls_are_removed_and_line_breaks_kept():
    text = "a\x00b\x1b[31m\u202ec\u2066d\u200f\te\nf"
    assert strip_controls(text) == "ab[31mcd\te\nf"
    assert neutralise("x\u202e[y]") == "x\\[y\\]"
