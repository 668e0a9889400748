"""The 24-hour chart of the tenant page as SVG geometry: computed here, drawn by the template, no script."""

from __future__ import annotations

from dataclasses import dataclass

from scim.platform.activity_report import HourBar

WIDTH = 720
HEIGHT = 180
LEFT = 28
BOTTOM = 14
GAP = 4


@dataclass(frozen=True)
class Bar:
    label: str
    requests: int
    errors: int
    x: float
    requests_y: float
    requests_height: float
    errors_y: float
    errors_height: float


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    peak: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    base: int = HEIGHT - BOTTOM
    bar_width: float = 0.0


def chart(hours: list[HourBar]) -> Chart:
    """One bar per hour: requests (full height scale), errors drawn over it on the same scale."""
    peak = max((h.requests for h in hours), default=0)
    scale_top = max(peak, 1)
    plot = HEIGHT - BOTTOM - 12
    slot = (WIDTH - LEFT) / max(len(hours), 1)
    width = round(slot - GAP, 2)
    bars = []
    for n, hour in enumerate(hours):
        requests_height = round(plot * hour.requests / scale_top, 2)
        errors_height = round(plot * min(hour.errors, hour.requests or hour.errors) / max(scale_top, hour.errors), 2)
        base = HEIGHT - BOTTOM
        bars.append(
            Bar(
                label=f"{hour.start:%H}:00",
                requests=hour.requests,
                errors=hour.errors,
                x=round(LEFT + n * slot, 2),
                requests_y=round(base - requests_height, 2),
                requests_height=requests_height,
                errors_y=round(base - errors_height, 2),
                errors_height=errors_height,
            )
        )
    return Chart(bars=bars, peak=peak, bar_width=width)
