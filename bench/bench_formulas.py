"""Drawing formulas for the weekly mail and the feeds: a fresh drawing against the cache, per formula.

Every recipient of a week's mail sees the same formulas, so each is drawn once and then served from the cache
keyed by the hash of its source. The baseline is the cost of drawing (mathtext parse, Agg raster, PNG
encode) measured in the same run on the same formulas; the figure is how many cached look-ups one drawing
costs. Also printed: the PNG bytes per formula, which bound how many fit a mail's image budget.
"""

from __future__ import annotations

import time

from bench.timing import best_of
from digest import formula_png
from digest.formula_png import draw
from digest.mail_formulas import IMAGE_BUDGET

FORMULAS = [
    r"\boldsymbol{M}\in\mathbb{R}^{n\times m}",
    r"\sum\limits_{i=1}^{r}\frac{\sigma_i^2}{\sum\limits_{j=1}^{n}\sigma_j^2}",
    r"\Vert\boldsymbol{M}\Vert_F^2 = \text{Tr}(\boldsymbol{M}^{\top}\boldsymbol{M})",
    r"\boldsymbol{Q}\boldsymbol{K}^{\top}/\sqrt{d}",
    r"\mathcal{L} = -\mathbb{E}_{x\sim p}\left[\log q_{\theta}(x)\right]",
    r"\text{softmax}(\boldsymbol{x})_i = \frac{e^{x_i}}{\sum_j e^{x_j}}",
    r"\nabla_{\theta} f(\theta) \approx \frac{f(\theta+\epsilon)-f(\theta)}{\epsilon}",
    r"\boldsymbol{W}_{t+1} = \boldsymbol{W}_t - \eta\,\text{msign}(\boldsymbol{G}_t)",
]
VARIANTS = 25  # each formula with 25 different subscripts: 200 distinct sources


def _sources() -> list[str]:
    return [f"{source} + c_{{{n}}}" for n in range(VARIANTS) for source in FORMULAS]


def main() -> None:
    """Print the cost of a fresh drawing, of a cached one, their ratio, and the PNG size."""
    draw("x")  # the first drawing imports matplotlib: not part of either figure
    sources = _sources()

    def fresh() -> None:
        formula_png._cache.clear()
        for source in sources:
            draw(source)

    def cached() -> None:
        for source in sources:
            draw(source)

    started = time.perf_counter()
    fresh_s = best_of(fresh, repeat=3)
    cached_s = best_of(cached, repeat=5)
    drawings = [d for d in (draw(s) for s in sources) if d is not None]
    sizes = sorted(len(d.png) for d in drawings)
    per_fresh = fresh_s / len(sources) * 1000
    per_cached = cached_s / len(sources) * 1e6
    print(f"formulas: {len(sources)} distinct sources, {len(drawings)} drawn")
    print(f"  fresh drawing (parse + raster + PNG): {per_fresh:.2f} ms per formula")
    print(f"  cached look-up (hash of the source):  {per_cached:.1f} µs per formula")
    print(f"  one drawing costs {fresh_s / cached_s:,.0f} cached look-ups")
    median = sizes[len(sizes) // 2]
    print(
        f"  PNG size: median {median:,} B, largest {sizes[-1]:,} B; "
        f"a mail's image budget ({IMAGE_BUDGET:,} B) holds about {IMAGE_BUDGET // median} median formulas"
    )
    print(f"  (measured in {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
