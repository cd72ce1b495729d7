"""Is the registry palette colour-blind safe? Simulate colour-vision deficiencies and measure.

Each framework's colour comes from pulse/frameworks.toml and is used in every chart and
export. The dashboard's default frameworks use the Okabe-Ito palette (Okabe & Ito 2008,
"Color Universal Design"), designed to stay distinguishable for protan, deutan and tritan
viewers. This module checks that claim rather than trusting it: it simulates the three
dichromacies with the Machado, Oliveira & Fernandes (2009) matrices (severity 1.0, applied
in linear RGB) and reports the CIEDE2000 distance between every pair of colours.
"""

from __future__ import annotations

import itertools
import math

OKABE_ITO = {
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
    "black": "#000000",
}
# Machado et al. 2009, severity 1.0 (linear RGB).
CVD_MATRICES = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602), (0.004733, 0.691367, 0.303900)),
}
# Below this CIEDE2000 distance two line colours are easily confused (about 10 is "clearly
# different at a glance" for thin lines; 2.3 is a just-noticeable difference).
MIN_DISTANCE = 10.0


def _to_linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _to_srgb(c: float) -> float:
    c = min(max(c, 0.0), 1.0)
    return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055


def hex_to_rgb(value: str) -> tuple[float, float, float]:
    value = value.lstrip("#")
    return tuple(int(value[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def simulate(color: str, deficiency: str | None) -> tuple[float, float, float]:
    """The sRGB colour (0..1) as seen with a dichromacy (None: normal vision)."""
    rgb = hex_to_rgb(color)
    if deficiency is None:
        return rgb
    lin = [_to_linear(c) for c in rgb]
    m = CVD_MATRICES[deficiency]
    return tuple(_to_srgb(sum(m[r][k] * lin[k] for k in range(3))) for r in range(3))  # type: ignore[return-value]


def to_lab(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    r, g, b = (_to_linear(c) for c in rgb)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def ciede2000(lab1: tuple[float, float, float], lab2: tuple[float, float, float]) -> float:
    """CIEDE2000 colour difference (Sharma, Wu & Dalal 2005)."""
    l1, a1, b1 = lab1
    l2, a2, b2 = lab2
    c1, c2 = math.hypot(a1, b1), math.hypot(a2, b2)
    cbar = (c1 + c2) / 2
    g = 0.5 * (1 - math.sqrt(cbar ** 7 / (cbar ** 7 + 25 ** 7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360
    h2p = math.degrees(math.atan2(b2, a2p)) % 360
    dlp, dcp = l2 - l1, c2p - c1p
    if c1p * c2p == 0:
        dhp = 0.0
    elif abs(h2p - h1p) <= 180:
        dhp = h2p - h1p
    else:
        dhp = h2p - h1p - 360 if h2p > h1p else h2p - h1p + 360
    dHp = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dhp / 2))
    lbar, cbarp = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        hbar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        hbar = (h1p + h2p) / 2
    else:
        hbar = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (1 - 0.17 * math.cos(math.radians(hbar - 30)) + 0.24 * math.cos(math.radians(2 * hbar))
         + 0.32 * math.cos(math.radians(3 * hbar + 6)) - 0.20 * math.cos(math.radians(4 * hbar - 63)))
    sl = 1 + 0.015 * (lbar - 50) ** 2 / math.sqrt(20 + (lbar - 50) ** 2)
    sc = 1 + 0.045 * cbarp
    sh = 1 + 0.015 * cbarp * t
    rt = (-2 * math.sqrt(cbarp ** 7 / (cbarp ** 7 + 25 ** 7))
          * math.sin(math.radians(60 * math.exp(-(((hbar - 275) / 25) ** 2)))))
    return math.sqrt((dlp / sl) ** 2 + (dcp / sc) ** 2 + (dHp / sh) ** 2 + rt * (dcp / sc) * (dHp / sh))


def distance(c1: str, c2: str, deficiency: str | None = None) -> float:
    return ciede2000(to_lab(simulate(c1, deficiency)), to_lab(simulate(c2, deficiency)))


def check(colors: dict[str, str], min_distance: float = MIN_DISTANCE) -> list[tuple[str, str, str, float]]:
    """Pairs (a, b, vision, distance) closer than min_distance under normal vision or a dichromacy."""
    close = []
    for (a, ca), (b, cb) in itertools.combinations(colors.items(), 2):
        for vision in (None, *CVD_MATRICES):
            d = distance(ca, cb, vision)
            if d < min_distance:
                close.append((a, b, vision or "normal", round(d, 1)))
    return close


def worst_pairs(colors: dict[str, str]) -> dict[str, tuple[str, str, float]]:
    """Per vision type, the least distinguishable pair and its distance."""
    out = {}
    for vision in (None, *CVD_MATRICES):
        pairs = [(a, b, distance(ca, cb, vision)) for (a, ca), (b, cb) in itertools.combinations(colors.items(), 2)]
        a, b, d = min(pairs, key=lambda p: p[2])
        out[vision or "normal"] = (a, b, round(d, 1))
    return out
