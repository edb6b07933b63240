"""A formula's source parsed (tolerantly, by pylatexenc) into the tokens the renderer reads."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pylatexenc import latexwalker

from archive.latex.tables import _CONTEXT, _SOFT, _Char, _Env, _Group, _Macro, _Math, _Token

log = logging.getLogger(__name__)

# --- parsing ------------------------------------------------------------------------------------------


def _tokens(nodes: Sequence[object] | None) -> tuple[_Token, ...]:
    out: list[_Token] = []
    for node in nodes or ():
        if isinstance(node, latexwalker.LatexCharsNode):
            out.extend(_Char(c) for c in node.chars)
        elif isinstance(node, latexwalker.LatexMacroNode):
            out.append(_Macro(node.macroname))
            if node.macro_post_space:
                out.append(_Char(_SOFT))
        elif isinstance(node, latexwalker.LatexGroupNode):
            out.append(_Group(_tokens(node.nodelist)))
        elif isinstance(node, latexwalker.LatexEnvironmentNode):
            out.append(_Env(node.environmentname, _tokens(node.nodelist)))
        elif isinstance(node, latexwalker.LatexMathNode):
            out.append(_Math(_tokens(node.nodelist)))
        elif isinstance(node, latexwalker.LatexCommentNode):
            out.extend(_Char(c) for c in "%" + node.comment)
        elif isinstance(node, latexwalker.LatexSpecialsNode):
            out.extend(_Char(c) for c in node.specials_chars)
    return tuple(out)


def _parse(source: str) -> tuple[_Token, ...]:
    walker = latexwalker.LatexWalker(source, latex_context=_CONTEXT, tolerant_parsing=True)
    nodes, _, _ = walker.get_latex_nodes()
    return _tokens(nodes)
