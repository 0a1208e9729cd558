"""The report's workload section (``gilbench.report.workload``) from a crafted ``workload``
section: every figure checked is known in advance. The end-to-end check on a real `gilbench try`
document is in test_try_cli.py."""

from __future__ import annotations

from gilbench.report.blocks import to_html_body, to_markdown
from gilbench.report.workload import gil_text, workload_section

SECTION = {
    "function": "mymod:parse", "tasks": 40, "compare": "mymod:same",
    "task_s": {"median": 2e-5, "min": 1.8e-5, "max": 3e-5, "n": 40},
    "check_error": None,
    "blocked": {"interpreters": "mymod:parse cannot be imported in a subinterpreter"},
    "executors": {
        "thread-pool": {"per_task_s": 5e-5, "workers": 2, "break_even_task_s": 1e-4},
        "process-pool": {"per_task_s": 9e-4, "workers": 2, "pickle_s": 4e-4,
                         "args_bytes": 3 * 1024, "results_bytes": 80,
                         "break_even_task_s": 1.8e-3},
        "joblib-loky": {"error": "executor unavailable: joblib is not installed; install it "
                                 'with: pip install "gilbench[joblib]"'},
    },
    "gil": {"verdict": "holds", "fraction": 0.04, "low": 0.02, "high": 0.07,
            "reason": "interval below 0.25"},
    "recommendation": {"text": "Stay serial: tasks of 20 µs are below every executor's "
                               "break-even (the lowest is 100 µs).",
                       "rule": "Rule: crafted.", "code": "serial"},
}


def test_section_says_advice_gil_and_costs() -> None:
    md = to_markdown(workload_section({"workload": SECTION}))
    assert md.startswith("## Your function: mymod:parse")
    assert "40 tasks" in md and "20 µs (median; 18 µs to 30 µs)" in md and "`mymod:same`" in md
    assert "| **serial** | Stay serial: tasks of 20 µs are below" in md
    assert "Rule: crafted." in md
    assert "**4%** of its pace (95% interval 2%–7%): **holds** (interval below 0.25)." in md
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.strip().strip("|").split("|")]
            for line in md.splitlines() if line.startswith("| ") and "---" not in line}
    assert rows["thread-pool"] == ["thread-pool", "2", "50 µs", "—", "50 µs", "100 µs"]
    # round trip = cost per task - pickling; 3 KiB of arguments and 80 B of results
    assert rows["process-pool"] == ["process-pool", "2", "500 µs", "3 KiB in + 80 B out, 400 µs",
                                    "900 µs", "1.8 ms"]
    assert rows["joblib-loky"][-1].startswith("executor unavailable: joblib is not installed")
    assert rows["interpreters"][-1] == ("not run: mymod:parse cannot be imported in a "
                                        "subinterpreter")
    html = to_html_body(workload_section({"workload": SECTION}))
    assert "Your function: mymod:parse" in html and "v-baseline" in html


def test_no_workload_section_adds_nothing() -> None:
    assert workload_section({"cells": []}) == []


def test_gil_check_without_a_fraction_says_why() -> None:
    text = gil_text({"verdict": "undecided", "fraction": None, "low": None, "high": None,
                     "reason": "1 usable core: a second thread cannot run beside the call"})
    assert text == "**undecided**: 1 usable core: a second thread cannot run beside the call."
    assert gil_text(None) == "The GIL check was not run."


def test_stress_outcome_with_runs_per_worker_count() -> None:
    stress = {"verdict": "failed", "runs": 40, "tasks": 16, "workers": [2, 4],
              "per_workers": {"2": {"runs": 40, "mismatched": 31},
                              "4": {"runs": 40, "mismatched": 0}},
              "text": "`parse` failed the stress test: 31 of 80 threaded runs differ."}
    md = to_markdown(workload_section({"workload": {**SECTION, "stress": stress}}))
    part = md[md.index("### Is it thread-safe? The stress test"):md.index("### Cost per task")]
    assert "| **failed** | `parse` failed the stress test: 31 of 80 threaded runs differ. |" \
        in part
    assert "The 16 tasks ran 40 times under threads at each worker count" in part
    assert "| 2 | 40 | 31 |" in part and "| 4 | 40 | 0 |" in part
    skipped = {"verdict": "not run", "runs": 40,
               "text": "The stress test did not run: the serial check run failed on task 0."}
    md = to_markdown(workload_section({"workload": {**SECTION, "stress": skipped}}))
    assert "| **not run** | The stress test did not run" in md and "runs that differ" not in md
    assert "thread-safe" not in to_markdown(workload_section({"workload": SECTION}))
