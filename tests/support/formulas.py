"""Posts whose excerpts hold formulas, for the tests of drawn formulas (mail, pages, feeds, Telegram).

FOUR_FORMULAS is the example of the weekly mail: a bold matrix in ℝⁿˣᵐ, a sum of fractions with limits, a
Frobenius norm with a trace, and the determinant of a pmatrix (which mathtext cannot draw).
"""

from __future__ import annotations

from archive.model import Post, PostDate

BOLD_MATRIX = r"\boldsymbol{M}\in\mathbb{R}^{n\times m}"
SUM_OF_FRACTIONS = r"\sum\limits_{i=1}^{r}\frac{\sigma_i^2}{\sum\limits_{j=1}^{n}\sigma_j^2}"
FROBENIUS = r"\Vert\boldsymbol{M}\Vert_F^2 = \text{Tr}(\boldsymbol{M}^{\top}\boldsymbol{M})"
DETERMINANT = r"\det\begin{pmatrix}a & b \\ c & d\end{pmatrix} = ad - bc"
FOUR = (BOLD_MATRIX, SUM_OF_FRACTIONS, FROBENIUS, DETERMINANT)

FOUR_FORMULAS = Post(
    10903,
    "低秩近似之路（五）：CUR分解",
    PostDate(2025, 5, 9),
    excerpt=(
        f"设矩阵 ${BOLD_MATRIX}$，它的能量占比为 $${SUM_OF_FRACTIONS}$$"
        f"而且 ${FROBENIUS}$，二阶时 ${DETERMINANT}$。"
    ),
)
EARLIER_PART = Post(
    10880,
    "低秩近似之路（四）：ID",
    PostDate(2025, 4, 20),
    excerpt=r"插值分解把 $\boldsymbol{A}\approx\boldsymbol{C}\boldsymbol{Z}$ 写成列的组合。",
)
FORMULA_POSTS = [FOUR_FORMULAS, EARLIER_PART]
