"""Reading the enhancement LLM's answer: JSON however wrapped, plain text, `<think>` cut anywhere."""

import pytest

from common.errors import UpstreamFailed
from worker.enhance.answer import ThinkSplitter, parse_answer

PROMPT = "a ginger cat reading, warm light"


@pytest.mark.parametrize(
    ("answer", "prompt", "ratio"),
    [
        ('{"prompt": "a ginger cat reading, warm light", "aspect_ratio": null}', PROMPT, None),
        ('{"prompt": "a ginger cat reading, warm light", "aspect_ratio": "3:2"}', PROMPT, "3:2"),
        (
            '```json\n{"prompt": "a ginger cat reading, warm light", "aspect_ratio": "16:9"}\n```',
            PROMPT,
            "16:9",
        ),
        (
            'Here you go:\n```\n{"prompt": "a ginger cat reading, warm light"}\n```\nEnjoy!',
            PROMPT,
            None,
        ),
        (
            'Sure! {"prompt": "a ginger cat reading, warm light", "aspect_ratio": "9:16"} Hope it helps.',
            PROMPT,
            "9:16",
        ),
        (
            '{"prompt": "a ginger cat\\n reading,   warm light", "aspect_ratio": "16：9"}',
            PROMPT,
            "16:9",
        ),
        (
            '{"prompt": "a ginger cat reading, warm light", "aspect_ratio": "5:4"}',
            PROMPT,
            "4:3",
        ),  # snapped
        (
            '{"prompt": "a ginger cat reading, warm light", "aspect_ratio": "landscape"}',
            PROMPT,
            None,
        ),
        ('{"prompt": "a ginger cat reading, warm light", "aspect_ratio": 1.5}', PROMPT, None),
        (
            '{"prompt": "a sign reading \\"欢迎来到冲绳\\"", "aspect_ratio": null}',
            'a sign reading "欢迎来到冲绳"',
            None,
        ),
        ("a ginger cat reading, warm light", PROMPT, None),
        ('"a ginger cat reading, warm light"', PROMPT, None),
        ("Prompt: a ginger cat reading, warm light", PROMPT, None),
        ("Enhanced prompt：a ginger cat reading,\nwarm light", PROMPT, None),
        ("a sign that says {open}", "a sign that says {open}", None),
    ],
)
def test_answers_that_give_a_prompt(answer, prompt, ratio):
    assert parse_answer(answer, 4000) == (prompt, ratio)


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("", "nothing"),
        ("   \n ", "nothing"),
        ('{"prompt": "a ginger cat', "broken JSON"),
        ('{"prompt": ""}', "no prompt"),
        ('{"description": "a ginger cat"}', "no prompt"),
        ('{"prompt": 42}', "no prompt"),
        ('["a ginger cat"]', "broken JSON"),
    ],
)
def test_answers_without_a_prompt_fail(answer, why):
    with pytest.raises(UpstreamFailed) as failure:
        parse_answer(answer, 4000)
    assert why in failure.value.message


def test_a_long_prompt_is_cut_at_a_words_end():
    assert parse_answer("alpha beta gamma delta", 12) == ("alpha beta", None)
    assert parse_answer("alpha beta gamma delta", 10) == ("alpha beta", None)
    assert parse_answer("supercalifragilistic", 5) == ("super", None)


def split_all(pieces: list[str]) -> tuple[str, str]:
    splitter, thought, said = ThinkSplitter(), [], []
    for piece in pieces:
        reasoning, answer = splitter.feed(piece)
        thought.append(reasoning)
        said.append(answer)
    reasoning, answer = splitter.close()
    return "".join(thought + [reasoning]), "".join(said + [answer])


TEXT = '<think>light from the left</think>\n{"prompt": "x"}'


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 100])
def test_think_tags_split_anywhere_by_the_stream(size):
    pieces = [TEXT[i : i + size] for i in range(0, len(TEXT), size)]
    assert split_all(pieces) == ("light from the left", '\n{"prompt": "x"}')


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        (["no tags at all"], ("", "no tags at all")),
        (["a <b> tag and a < sign"], ("", "a <b> tag and a < sign")),
        (["<think>cut off before the end"], ("cut off before the end", "")),
        (["answer <thi"], ("", "answer <thi")),  # a tag that never completes is text
        (["<think>a</think>one", "<think>b</think>two"], ("ab", "onetwo")),
    ],
)
def test_think_splitter_edges(pieces, expected):
    assert split_all(pieces) == expected
