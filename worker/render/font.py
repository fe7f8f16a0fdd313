"""A 5x7 bitmap font for printable ASCII with one descender row, stored column by column."""

GLYPH_WIDTH = 5
GLYPH_HEIGHT = 8  # seven rows above the baseline, one for descenders

# Five column bytes per glyph from 0x20 to 0x7E; bit 0 is the top row.
_COLUMNS = bytes.fromhex(
    "0000000000 00005f0000 0007000700 147f147f14 242a7f2a12 2313086462 3649552250 0005030000 "
    "001c224100 0041221c00 082a1c2a08 08083e0808 0050300000 0808080808 0060600000 2010080402 "
    "3e5149453e 00427f4000 4261514946 2141454b31 1814127f10 2745454539 3c4a494930 0171090503 "
    "3649494936 064949291e 0036360000 0056360000 0814224100 1414141414 0041221408 0201510906 "
    "324979413e 7e1111117e 7f49494936 3e41414122 7f4141221c 7f49494941 7f09090101 3e41415132 "
    "7f0808087f 00417f4100 2040413f01 7f08142241 7f40404040 7f0204027f 7f0408107f 3e4141413e "
    "7f09090906 3e4151215e 7f09192946 4649494931 01017f0101 3f4040403f 1f2040201f 7f2018207f "
    "6314081463 0304780403 6151494543 007f414100 0204081020 0041417f00 0402010204 4040404040 "
    "0001020400 2054545478 7f48444438 3844444420 384444487f 3854545418 087e090102 18a4a4a47c "
    "7f08040478 00447d4000 4080847d00 7f10284400 00417f4000 7c04180478 7c08040478 3844444438 "
    "fc24242418 18242424fc 7c08040408 4854545420 043f444020 3c4040207c 1c2040201c 3c4030403c "
    "4428102844 1ca0a0a07c 4464544c44 0008364100 00007f0000 0041360800 0804080408"
)
# Characters outside the table become a hollow box, so the reader still sees something was there.
_MISSING = bytes.fromhex("7f4141417f")

Runs = tuple[tuple[tuple[int, int], ...], ...]


def _runs(columns: bytes) -> Runs:
    """Per row, the (start, end) column ranges that are inked, so callers fill spans not pixels."""
    rows = []
    for row in range(GLYPH_HEIGHT):
        runs, start = [], None
        for col in range(GLYPH_WIDTH + 1):
            inked = col < GLYPH_WIDTH and columns[col] >> row & 1
            if inked and start is None:
                start = col
            elif not inked and start is not None:
                runs.append((start, col))
                start = None
        rows.append(tuple(runs))
    return tuple(rows)


_GLYPHS = {chr(0x20 + i): _runs(_COLUMNS[i * 5 : i * 5 + 5]) for i in range(len(_COLUMNS) // 5)}
_MISSING_RUNS = _runs(_MISSING)


def glyph_runs(char: str) -> Runs:
    """The inked runs of `char`, or of the missing-glyph box when the font lacks it."""
    return _GLYPHS.get(char, _MISSING_RUNS)
