"""The series' look in one place: plotly's colours by name, what each colour means, and the layout.

Every figure and explorer takes its colours and layout from here, so a colour means the same thing
in every notebook (blue: residual, red: plain) and changes in one line. The colours are plotly's
own qualitative palette (D3's category10), written out so that figures do not depend on plotly's
defaults.

The tables are read-only (`types.MappingProxyType`, tuples, `ReadOnlyDict` inside): a notebook that
changed one would change every later figure. Change a copy: `{**LAYOUT, "height": 400}`.
"""

from __future__ import annotations

from types import MappingProxyType

import plotly.graph_objects as go
import plotly.io as pio

__all__ = [
    "COLORS",
    "DIAGRAM_BOXES",
    "LAYOUT",
    "PALETTE",
]


class ReadOnlyDict(dict):
    """A dict that refuses changes, for a nested value of a public table.

    Plotly wants a real dict there (it refuses a `MappingProxyType`). Copies (`dict(d)`,
    `copy.deepcopy`) are ordinary dicts.
    """

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise TypeError(
            "this table is read-only: every figure shares it; change a copy instead, e.g. "
            "{**LAYOUT, 'margin': dict(t=90)}"
        )

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple:
        return dict, (dict(self),)  # a copy is a plain dict: copy and deepcopy never call _refuse


BLUE = "#1f77b4"
ORANGE = "#ff7f0e"
GREEN = "#2ca02c"
RED = "#d62728"
PURPLE = "#9467bd"
BROWN = "#8c564b"
GREY = "#7f7f7f"
LIGHT_GREY = "#bbbbbb"
MID_GREY = "#999"  # reference lines: float32's max, 1/(k+1)
DARK_GREY = "#333"  # a single curve that needs no legend
LIGHT_RED = "#ff9896"

# One colour per label, in this order, where a figure draws several networks or blocks.
PALETTE = (BLUE, ORANGE, GREEN, RED, PURPLE, BROWN)

# What a colour means across the series.
RESIDUAL, PLAIN = BLUE, RED
COLORS = MappingProxyType({"relu": BLUE, "tanh": GREEN, "sigmoid": RED})  # the activations of notebook 01

# The explorers' status line (HTML above the figure): a sentence, or what went wrong.
STATUS_TEXT = "#444"
ERROR_TEXT = "#cf222e"

# plotly_white, and tick labels drawn without plotly.js's overflow check ("allow"; its default hides a
# label past the figure's edge): the check measures each label's box once per label drawn, each
# measurement a layout of the whole page. In a RISE slideshow (every slide in one document) it was
# 50 of a redraw's 115 ms in a Chromium profile of notebook 04's explorer; with it off, 12 ms. Our
# labels sit outside the plot area, inside the margins, where overflow does not arise.
pio.templates["reslib"] = go.layout.Template(
    layout=dict(xaxis=dict(ticklabeloverflow="allow"), yaxis=dict(ticklabeloverflow="allow"))
)
LAYOUT = MappingProxyType(dict(template="plotly_white+reslib", margin=ReadOnlyDict(l=60, r=20, t=60, b=50)))

# Architecture diagrams (`reslib.viz.diagram`): what a box's colour says, the same in every diagram,
# as (fill, stroke): the stroke is the series' colour, the fill a pale tint of it.
WHITE = "#ffffff"
DIAGRAM_BOXES = MappingProxyType(
    {
        "layer": ("#dbe9f6", BLUE),  # a linear map or a convolution: the weights
        "norm": ("#fdebd3", ORANGE),  # batch, layer or group norm
        "act": ("#dff2df", GREEN),  # ReLU, tanh, sigmoid...
        "io": ("#f2f2f2", GREY),  # an input, an output, a tensor
        "pool": ("#ece4f4", PURPLE),  # pooling, up- and downsampling, cropping
        "attention": ("#f9e0e0", RED),  # self-attention
        "block": (WHITE, DARK_GREY),  # a whole block or stage, its inside not drawn
    }
)
