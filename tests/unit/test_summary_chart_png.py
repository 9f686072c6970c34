"""bot/summary_chart.py's palette_png: the chart leaves the drawing process as a palette PNG,
its flat fills unchanged (the colours that say which decision a bar counts)."""

from __future__ import annotations

import io

from PIL import Image, ImageColor, ImageDraw

from bot.summary_chart import COLOURS, PALETTE_COLOURS, PNG_SIGNATURE, palette_png


def _drawing() -> Image.Image:
    """White, one bar per category colour, and anti-aliased text and a grey ramp: more than
    PALETTE_COLOURS colours in all."""
    image = Image.new("RGBA", (700, 300), "white")
    draw = ImageDraw.Draw(image)
    for n, colour in enumerate(COLOURS.values()):
        draw.rectangle((10 + 90 * n, 40, 80 + 90 * n, 200), fill=colour, outline="#525252")
    draw.text((10, 220), "Incidents per week (last 12 weeks), by decision 週次", fill="black")
    for x in range(600):
        draw.line((x, 260, x, 290), fill=(x % 256, (3 * x) % 256, (7 * x) % 256))
    return image


def test_palette_png_keeps_the_fills_and_the_size() -> None:
    original = _drawing()
    source = io.BytesIO()
    original.save(source, format="PNG")
    assert len(original.convert("RGB").getcolors(1 << 24) or []) > PALETTE_COLOURS

    png = palette_png(source.getvalue())

    assert png.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == "P"
        assert image.size == original.size
        rgb = image.convert("RGB")
    assert len(rgb.getcolors(PALETTE_COLOURS) or []) <= PALETTE_COLOURS
    for n, colour in enumerate(COLOURS.values()):
        assert rgb.getpixel((45 + 90 * n, 120)) == ImageColor.getrgb(colour), colour
    assert rgb.getpixel((650, 20)) == (255, 255, 255)
