"""The prompt parser against SPEC §2.2.1–2: flags, ratios and what is left for the upstream."""

import pytest

from common.prompt.flags import parse_prompt, read_ratio

# (what the user typed, the prompt left for the upstream, the ratio taken, note expected)
CASES = [
    # Trigger words, each separator: nothing, space, ':', '：', '='.
    ("a cat reading a book, ratio 16:9", "a cat reading a book", "16:9", False),
    ("a cat, ratio: 3:2", "a cat", "3:2", False),
    ("a cat, ratio=4:3", "a cat", "4:3", False),
    ("a cat ratio16:9", "a cat", "16:9", False),
    ("a cat, aspect 9:16", "a cat", "9:16", False),
    ("a cat, aspect ratio: 21:9", "a cat", "21:9", False),
    ("a cat --ar 16:9", "a cat", "16:9", False),
    ("a cat --ar 2:3 --v 6", "a cat --v 6", "2:3", False),
    ("a cat, ar 3:4", "a cat", "3:4", False),
    ("a cat, AR=1:2", "a cat", "1:2", False),
    ("RATIO 2:1 a wide panorama", "a wide panorama", "2:1", False),
    ("a cat, ratio 16:9, sitting on a sofa", "a cat, sitting on a sofa", "16:9", False),
    ("a cat (ratio 16:9) on a sofa", "a cat on a sofa", "16:9", False),
    ("ratio 1:1, a round logo", "a round logo", "1:1", False),
    # Chinese: 比例 needs no space before it; full-width colons and commas.
    ("一只猫在看书，比例 16:9", "一只猫在看书", "16:9", False),
    ("一只猫在看书，比例16:9", "一只猫在看书", "16:9", False),
    ("一只猫在看书比例：9：16", "一只猫在看书", "9:16", False),
    ("一只猫在看书，比例=3:2", "一只猫在看书", "3:2", False),
    ("比例 4:3，一只猫在看书", "一只猫在看书", "4:3", False),
    ("一只猫比例16:9在看书", "一只猫在看书", "16:9", False),
    ("一只可爱的小狗，比例为 9:16", "一只可爱的小狗", "9:16", False),
    ("海边日落，ratio 21:9", "海边日落", "21:9", False),
    ("一只猫，比例１６：９", "一只猫", "16:9", False),
    # A supported ratio as the very last token, after a space or a comma.
    ("a lighthouse in a storm 16:9", "a lighthouse in a storm", "16:9", False),
    ("a lighthouse in a storm, 9:16", "a lighthouse in a storm", "9:16", False),
    ("一只猫，16:9", "一只猫", "16:9", False),
    ("a poster 3：4", "a poster", "3:4", False),
    # Not ratios: times, scores, ratios in the middle, unsupported trailing values, scales.
    ("下午16:30的洛杉矶", "下午16:30的洛杉矶", None, False),
    ("the team won 3:2 in the final", "the team won 3:2 in the final", None, False),
    ("a clock showing 16:9 on the wall", "a clock showing 16:9 on the wall", None, False),
    ("meeting at 10:30", "meeting at 10:30", None, False),
    ("a scoreboard, 5:4", "a scoreboard, 5:4", None, False),
    ("a red car 3:2 in the final lap", "a red car 3:2 in the final lap", None, False),
    ("一张比例尺1:1000的地图", "一张比例尺1:1000的地图", None, False),
    ("16:9", "16:9", None, False),
    ("a cat, ratio 0:9", "a cat, ratio 0:9", None, False),
    # Unsupported ratios after a trigger snap to the nearest supported one, and say so.
    ("a portrait, ratio 5:4", "a portrait", "4:3", True),
    ("a cinema still, aspect 2.35:1", "a cinema still", "21:9", True),
    ("一只猫，比例 16:10", "一只猫", "3:2", True),
    ("a banner --ar 3:1", "a banner", "21:9", True),
    # Equal in value to a supported ratio: no snapping to report.
    ("a desk, ratio 32:18", "a desk", "16:9", False),
    # The last trigger wins, and every trigger is removed.
    ("a cat, ratio 1:1, no wait, ratio 16:9", "a cat, no wait", "16:9", False),
]

# (what the user typed, the prompt left, whether the LLM may enhance it)
FLAGS = [
    ("a cat no-enhance", "a cat", False),
    ("No-Enhance a cat", "a cat", False),
    ("一只猫在看书 no-enhance", "一只猫在看书", False),
    ("一只猫在看书no-enhance", "一只猫在看书", False),
    ("a cat, no-enhance, ratio 16:9", "a cat", False),
    ("a no-enhancement story", "a no-enhancement story", True),
    ("the-no-enhance flag", "the-no-enhance flag", True),
    ("  a   cat\n\nreading  ", "a cat reading", True),
]


@pytest.mark.parametrize(("raw", "text", "ratio", "noted"), CASES)
def test_ratios(raw, text, ratio, noted):
    parsed = parse_prompt(raw)
    assert (parsed.text, parsed.ratio, bool(parsed.notes)) == (text, ratio, noted)
    assert parsed.enhance


def test_a_snapped_ratio_names_what_was_asked_and_what_is_used():
    assert parse_prompt("a portrait, ratio 5:4").notes == (
        "aspect ratio 5:4 is not supported; using the nearest one, 4:3",
    )


@pytest.mark.parametrize(("raw", "text", "enhance"), FLAGS)
def test_no_enhance_is_a_whole_word_and_is_removed(raw, text, enhance):
    parsed = parse_prompt(raw)
    assert (parsed.text, parsed.enhance) == (text, enhance)


@pytest.mark.parametrize(
    ("text", "ratio"),
    [
        ("16:9", "16:9"),
        (" 3：2 ", "3:2"),
        ("5:4", "4:3"),
        ("square", None),
        ("0:1", None),
        ("16:9 please", None),
    ],
)
def test_read_ratio_takes_a_lone_ratio(text, ratio):
    assert read_ratio(text) == ratio
