"""Report sections for the experiments (``doc["experiments"]``), and the claims they decide.

One module per experiment, mirroring ``gilbench.experiments``; each has ``NAME``,
``section(data, outdir) -> (markdown, claims)`` and ``figures(data)``. This registry renders
them in ``ORDER``:

``render(doc, outdir) -> (markdown, claims)``: one section per experiment with a PNG plot
(written to ``outdir``, referred to by file name), a table of the numbers, and a sentence of
conclusion computed from them; plus claim dicts ``{"id", "claim", "verdict", "evidence",
"rule", "source"}`` for the claims the experiments decide. Every verdict states its rule, and
the evidence quotes the figures that decided it.

Only the data in the document is used (never the experiment code), so a results file from
another host renders the same.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from ..format import is_number
from . import break_even, contention, convoy, pickling, queue_pipe, startup, switch_interval
from ._common import CLAIM_TEXT, Claim, markdown_table

#: experiments in display order (unknown names are listed after, with their raw metadata)
SECTIONS: dict[str, ModuleType] = {m.NAME: m for m in (
    convoy, switch_interval, contention, queue_pipe, startup, pickling, break_even)}
ORDER = tuple(SECTIONS)

#: other processes using more than this many cores around an experiment earn a caution
BUSY_OTHER_CORES = 0.25


def busy_host(data: dict) -> str | None:
    """A warning when other processes competed for the cores around an experiment, else None.

    Decided on ``other_cpu_cores_before/_after`` (host-wide busy cores sampled while this
    process idled, just before and after) above ``BUSY_OTHER_CORES``; the load average is
    not used, since it counts the experiment's own workers too.
    """
    others = [x for x in (data.get("other_cpu_cores_before"), data.get("other_cpu_cores_after"))
              if is_number(x)]
    if not others or max(others) <= BUSY_OTHER_CORES:
        return None
    return (f"other processes kept {max(others):.2g} of this host's "
            f"{data.get('usable_cores', '?')} usable cores busy around this experiment "
            "(sampled just before and after it): they competed for the cores, so its latencies "
            "and speed-ups include that competition (a wait for a core looks like a wait for "
            "the GIL, and pools cannot get every core).")


def merge_claims(claims: list[Claim]) -> list[Claim]:
    """One claim per id: several experiments deciding the same claim are combined (all
    confirmed -> confirmed, all refuted -> refuted, else mixed), evidence joined."""
    merged: dict[str, list[Claim]] = {}
    for c in claims:
        merged.setdefault(c["id"], []).append(c)
    out = []
    for cid, parts in merged.items():
        if len(parts) == 1:
            out.append(parts[0])
            continue
        verdicts = {p["verdict"] for p in parts} - {"not measured"}
        verdict = (verdicts.pop() if len(verdicts) == 1 else
                   "not measured" if not verdicts else "mixed")
        out.append({
            "id": cid, "claim": parts[0]["claim"], "verdict": verdict,
            "evidence": "; ".join(f"{p['source']}: {p['evidence']}" for p in parts),
            "rule": " / ".join(f"{p['source']}: {p['rule']}" for p in parts)
                    + " (combined: all agree -> that verdict, else mixed)",
            "source": ", ".join(p["source"] for p in parts),
        })
    return out


def figures(doc: dict) -> list[tuple[str, str, str]]:
    """Key figures for a terminal summary: (experiment, figure, value)."""
    out: list[tuple[str, str, str]] = []
    for name, data in (doc.get("experiments") or {}).items():
        if data.get("error"):
            out.append((name, "error", data["error"]))
            continue
        module = SECTIONS.get(name)
        if module is not None:
            out.extend((name, figure, value) for figure, value in module.figures(data))
    return out


def render(doc: dict, outdir: Path) -> tuple[str, list[Claim]]:
    """Markdown for the experiment sections (level-3 headings; PNG plots written to
    ``outdir``) and the claim dicts the experiments decide, one per claim id."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    experiments = doc.get("experiments") or {}
    # no heading of its own: the main report puts this under its "Experiments" heading
    parts: list[str] = []
    claims: list[Claim] = []
    names = [n for n in ORDER if n in experiments] + [n for n in experiments if n not in ORDER]
    for name in names:
        data = experiments[name]
        title = data.get("title", name)
        if data.get("error"):
            parts.append(f"### {title}\n\nThis experiment failed: `{data['error']}`.")
            continue
        module = SECTIONS.get(name)
        if module is None:
            parts.append(f"### {title}\n\n(No report section for experiment `{name}`.)")
            continue
        md, cl = module.section(data, outdir)
        others = [x for x in (data.get("other_cpu_cores_before"),
                              data.get("other_cpu_cores_after")) if is_number(x)]
        meta = (f"*{'quick' if data.get('quick') else 'full'} run, "
                f"{data.get('duration_s', 0):.1f} s, {data.get('usable_cores', '?')} usable "
                f"cores; other processes used "
                + (" / ".join(f"{x:.2f}" for x in others) + " cores before / after"
                   if others else "an unknown share of the cores")
                + f"; load average {data.get('load_average_start')} at the start.*")
        caution = busy_host(data)
        if caution:
            meta += f"\n\n**Caution:** {caution}"
        parts.append(md + "\n\n" + meta)
        claims.extend(cl)
    if claims:
        rows = [[c["claim"], f"**{c['verdict']}**", c["evidence"], c["rule"]]
                for c in merge_claims(claims)]
        parts.insert(0, "How the experiments decided their claims (each rule in full):\n\n"
                     + markdown_table(["claim", "verdict", "evidence", "rule"], rows))
    return "\n\n".join(parts) + "\n", merge_claims(claims)


def decide(doc: dict) -> list[Claim]:
    """The claim verdicts alone (the plots are drawn in a throw-away directory)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="gilbench-claims-") as tmp:
        return render(doc, Path(tmp))[1]


__all__ = ["CLAIM_TEXT", "ORDER", "SECTIONS", "busy_host", "decide", "figures",
           "merge_claims", "render"]
