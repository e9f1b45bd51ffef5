"""Helpers for tests/test_cross_check*.py: hmip's regress JSON flattened into the key/value
form that tests/data/cross_check/fstep.R writes, and the comparison."""

from __future__ import annotations

import csv
import math
from functools import cache
from pathlib import Path


@cache
def load_r_kv(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    """{(model, removal): {key: value}} from an R key/value CSV (fstep.R's output)."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            kv = out.setdefault((row["model"], row["removal"]), {})
            assert row["key"] not in kv, row
            kv[row["key"]] = row["value"]
    return out


def _stop(r: dict) -> str:
    reason = r["stop_reason"]
    if not r["reliable"]:
        return "separation"
    if "entry criterion" in reason:
        return "entry"
    if "already visited" in reason:
        return "repeat"
    if "no candidate left" in reason:
        return "exhausted"
    raise AssertionError(reason)


def _fitted_columns(value):
    """hmip's JSON names store terms by breakdown key (ethnicity, ogrs_band, rosh), as every
    command does; fstep.R by the derived column fitted (ethnic_group, ...): map back."""
    from hmip_cli import schema

    if isinstance(value, dict):
        return {k: _fitted_columns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fitted_columns(v) for v in value]
    if isinstance(value, str):
        for b in schema.BREAKDOWNS:
            if b.key != b.column and (value == b.key or value.startswith(b.key + "(")):
                return b.column + value[len(b.key) :]
    return value


def hmip_kv(r: dict) -> dict[str, object]:
    """The same keys as fstep.R from one `hmip regress --format json` model object."""
    r = _fitted_columns(r)
    kv: dict[str, object] = {
        "n": r["n"],
        "n_dropped": r["n_dropped"],
        "path": ";".join(f"{s['action']}:{s['term']}" for s in r["steps"]),
        "stop": _stop(r),
        "reliable": str(r["reliable"]).lower(),
        "final_terms": ",".join(r["final_terms"]),
    }
    details = r["step_details"]
    last = details[-1]["step"]
    for sd in details:
        s = f"s{sd['step']}."
        if sd["step"] > 0:
            kv.update(
                {
                    s + "action": sd["action"],
                    s + "term": sd["term"],
                    s + "stat": sd["statistic"],
                    s + "df": sd["df"],
                    s + "p": sd["p"],
                }
            )
        if not r["reliable"] and sd["step"] == last:
            continue  # the separated model: R's estimates do not exist either
        kv[s + "terms"] = ",".join(sd["terms"])
        kv.update(
            {
                s + "m2ll": sd["minus_2ll"],
                s + "cs": sd["cox_snell_r2"],
                s + "nk": sd["nagelkerke_r2"],
            }
        )
        if sd["step"] > 0:
            kv[s + "model_chi2"] = sd["omnibus"]["model"]["chi_square"]
            kv[s + "step_chi2"] = sd["omnibus"]["step"]["chi_square"]
        for c in sd["variables_in_equation"]:
            if c["kind"] == "term":  # joint Wald of a k > 2 level factor
                q = f"{s}vie.{c['term']}."
                kv.update({q + "wald": c["wald"], q + "df": c["df"], q + "p": c["p"]})
                continue
            q = f"{s}vie.{c['parameter']}."
            kv.update(
                {
                    q + "b": c["b"],
                    q + "se": c["se"],
                    q + "wald": c["wald"],
                    q + "p": c["p"],
                    q + "exp_b": c["exp_b"],
                }
            )
            if c["kind"] == "parameter":
                kv.update({q + "ci_low": c["ci_low"], q + "ci_high": c["ci_high"]})
        for v in sd["variables_not_in_equation"]:
            assert v["eligible"], v
            if v["kind"] == "term":
                q = f"{s}score.{v['term']}."
                kv.update({q + "stat": v["score"], q + "df": v["df"], q + "p": v["p"]})
            elif v["parameter"] != v["term"]:  # an indicator of a k > 2 level factor
                q = f"{s}score.{v['parameter']}."
                kv.update({q + "stat": v["score"], q + "p": v["p"]})
        ov = sd["overall_statistics"]
        if ov is not None and sd["variables_not_in_equation"]:
            kv.update(
                {
                    s + "overall.stat": ov["score"],
                    s + "overall.df": ov["df"],
                    s + "overall.p": ov["p"],
                }
            )
        for t in sd["model_if_term_removed"]:
            q = f"{s}mitr.{t['term']}."
            kv.update(
                {
                    q + "ll": t["log_likelihood"],
                    q + "chg": t["change_minus_2ll"],
                    q + "df": t["df"],
                    q + "p": t["p"],
                }
            )
            if r["removal"] != "lr":
                kv.update(
                    {q + "removal_stat": t["removal_statistic"], q + "removal_p": t["removal_p"]}
                )
        c = sd["classification"]
        kv.update(
            {
                s + "class.nn": c["nonevent_predicted_nonevent"],
                s + "class.ne": c["nonevent_predicted_event"],
                s + "class.en": c["event_predicted_nonevent"],
                s + "class.ee": c["event_predicted_event"],
                s + "class.pct": c["percent_correct"],
            }
        )
    # The top-level summary and coefficients are the last step's (checked against R's too).
    if r["reliable"]:
        s = f"s{last}."
        top = {
            s + "m2ll": r["minus_2ll"],
            s + "cs": r["cox_snell_r2"],
            s + "nk": r["nagelkerke_r2"],
        }
        for c in r["coefficients"]:
            q = f"{s}vie.{c['parameter'] if c['kind'] != 'term' else c['term']}."
            for name in ("b", "se", "wald", "p", "exp_b", "ci_low", "ci_high", "df"):
                if q + name in kv:
                    top[q + name] = c[name]
        for k, v in top.items():
            assert v == kv[k], (k, v, kv[k])  # JSON top level = last step, exactly
    return kv


EXACT = (".df", ".nn", ".ne", ".en", ".ee", "n", "n_dropped")


def assert_kv_close(got: dict[str, object], ref: dict[str, str], rel: float) -> float:
    """Same keys; strings equal; counts and df exactly; other numbers within `rel` relative.
    Returns the largest relative difference."""
    assert sorted(got) == sorted(ref), (sorted(set(got) - set(ref)), sorted(set(ref) - set(got)))
    worst = 0.0
    for k, r in ref.items():
        g = got[k]
        if isinstance(g, str) or g is None:
            assert (g or "") == r, (k, g, r)
            continue
        x = float(r)
        if k.endswith(EXACT) or k in EXACT:
            assert g == x, (k, g, x)
            continue
        # Relative, except that a quantity that is exactly 0 in theory (a B of 0 for an
        # outcome split 50:50, a score of 0) comes out as +-1e-16 on either side: absolute
        # 1e-12 there. p-values keep a pure relative test (they can be 1e-30 and matter).
        d = 0.0 if g == x else abs(g - x) / abs(x) if x else math.inf
        if d > rel and not k.endswith(".p") and abs(g - x) <= 1e-12:
            continue
        assert d <= rel, (k, g, x, d)
        worst = max(worst, d)
    return worst
