"""Model terms named in a candidate list: plain columns, and interactions `a:b` (the product
term alone) or `a*b` (a, b and a:b), as SPSS LOGISTIC REGRESSION's `a BY b` and R's
formulas write them. Parsing only; the columns are built in design.py."""

from __future__ import annotations

from hmip_cli.errors import BadRequest


def parts(name: str) -> tuple[str, ...]:
    """The columns of a term: 'a:b' -> ('a', 'b'); 'a' -> ('a',)."""
    return tuple(p.strip() for p in name.split(":"))


def is_interaction(name: str) -> bool:
    return ":" in name


def expand(candidates: list[str]) -> list[str]:
    """Candidate terms in order, `a*b` written out as a, b, a:b (each once; a*b*c gives every
    lower-order interaction too). Raises BadRequest for an empty part, a repeated column in
    one term, or an interaction whose main effects are not candidates (SPSS's hierarchy:
    write a*b)."""
    out: list[str] = []

    def add(term: str) -> None:
        if term not in out:
            out.append(term)

    for raw in candidates:
        if "*" in raw:
            cols = [p.strip() for p in raw.split("*")]
            if any(not c or ":" in c for c in cols):
                raise BadRequest(f"candidate {raw!r}: write an interaction as a*b or a:b")
            # every subset, lower orders first, in the order written
            subsets = [
                [c for i, c in enumerate(cols) if mask >> i & 1]
                for mask in range(1, 1 << len(cols))
            ]
            for sub in sorted(subsets, key=len):
                add(":".join(sub))
        else:
            add(raw.strip())
    for term in out:
        ps = parts(term)
        if any(not p for p in ps):
            raise BadRequest(f"candidate {term!r}: an interaction needs a column on each side")
        if len(set(ps)) != len(ps):
            raise BadRequest(f"candidate {term!r} names a column twice")
        if len(ps) > 1:
            lower = [":".join(q for q in ps if q != p) for p in ps]
            missing = [m for m in lower if m not in out]
            if missing:
                raise BadRequest(
                    f"interaction {term!r} needs its lower-order terms among the candidates "
                    f"({', '.join(missing)}); write {'*'.join(ps)} to include them"
                )
    return out


def base_columns(terms: list[str]) -> list[str]:
    """The data columns the terms use, in first-use order."""
    cols: list[str] = []
    for t in terms:
        for p in parts(t):
            if p not in cols:
                cols.append(p)
    return cols
