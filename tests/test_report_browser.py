"""The HTML report opens and renders in a real browser (headless Chromium), offline.

A copy of the page gets a tiny probe script that, after the load event, marks every image with
whether it decoded (``naturalWidth > 0``) and its natural width; ``--dump-dom`` prints the DOM
after it ran. A deliberately broken image checks that the probe can tell. Skipped when no
Chromium is installed (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from gilbench.report import load_any
from gilbench.report.compare import write_compare

DATA = Path(__file__).resolve().parent / "data"


def _chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this host "
                                "(Debian: apt-get install chromium)")

PROBE = """<script>
window.addEventListener("load", function () {
  for (const img of document.images) {
    img.setAttribute("data-decoded", img.complete && img.naturalWidth > 0 ? "yes" : "no");
    img.setAttribute("data-width", String(img.naturalWidth));
  }
  document.body.setAttribute("data-probed", String(document.images.length));
});
</script>"""
BROKEN = '<img id="broken" src="data:image/png;base64,AAAAAAAA" alt="control">'


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={profile}",
           # offline for real: any host name fails to resolve, so a fetch would break the page
           "--host-resolver-rules=MAP * ~NOTFOUND", *args]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail("chromium did not finish within 90 s")


def dump_dom(html_path: Path, tmp_path: Path) -> str:
    probe = html_path.with_name("probe-" + html_path.name)
    text = html_path.read_text(encoding="utf-8")
    assert text.count("</body>") == 1
    probe.write_text(text.replace("</body>", BROKEN + PROBE + "</body>"), encoding="utf-8")
    return run_chromium(tmp_path, "--dump-dom", probe.as_uri()).stdout


def png_width(path: Path) -> int:
    return struct.unpack(">I", path.read_bytes()[16:20])[0]


@pytest.fixture
def reports(recorded_reports) -> dict[str, dict[str, Path]]:
    """The reports' paths (tests/conftest.py's recorded_reports: written once per session)."""
    return {name: recorded_reports[name][1] for name in ("faulty.json", "real-primes-sleep.json")}


@pytest.mark.parametrize("name", ["faulty.json", "real-primes-sleep.json"])
def test_report_renders_tables_and_decodes_every_image(reports, name, tmp_path):
    paths = reports[name]
    dom = dump_dom(paths["html"], tmp_path)
    plots = sorted(p for k, p in paths.items() if k.startswith("plot:"))
    body = re.search(r'<body[^>]*data-probed="(\d+)"', dom)
    assert body, "the probe did not run: the page did not load"
    assert int(body.group(1)) == len(plots) + 1  # the plots and the broken control
    imgs = re.findall(r"<img [^>]*>", dom)
    control = [i for i in imgs if 'id="broken"' in i]
    assert control and 'data-decoded="no"' in control[0], "the probe cannot tell a broken image"
    widths = []
    for tag in imgs:
        if 'id="broken"' in tag:
            continue
        assert 'data-decoded="yes"' in tag, tag[:200]
        widths.append(int(re.search(r'data-width="(\d+)"', tag).group(1)))
    assert sorted(widths) == sorted(png_width(p) for p in plots)
    # the tables are there, with their badges
    assert len(re.findall(r"<table", dom)) >= 5
    for heading in ("Verdicts", "What the article says, and what this host shows",
                    "Problems: failed, undecided and anomalous cells", "All numbers"):
        assert heading in dom
    assert re.search(r'class="badge v-(parallel|concurrent|slower|partial|failed)"', dom)
    assert 'class="badge v-confirmed"' in dom or 'class="badge v-refuted"' in dom
    if name == "faulty.json":
        assert "BrokenProcessPool: worker exit code -11" in dom
        assert 'class="badge v-failed"' in dom


def test_report_screenshot_is_not_blank(reports, tmp_path):
    from PIL import Image  # matplotlib depends on Pillow

    shot = tmp_path / "shot.png"
    run_chromium(tmp_path, "--hide-scrollbars", "--window-size=1280,1600",
                 f"--screenshot={shot}", reports["real-primes-sleep.json"]["html"].as_uri())
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 1600)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text, badges, tables: not an empty page
    # the badges' green and the lead paragraph's tint are on screen, i.e. the CSS applied
    rgb = {c for _, c in colours}
    assert (26, 127, 55) in rgb  # --par, the "parallel"/"confirmed" badge green


def test_compare_page_renders(tmp_path):
    _, paths = write_compare(load_any(DATA / "synthetic-gil.json"),
                             load_any(DATA / "synthetic-ft.json"), tmp_path, ("gil", "ft"))
    dom = dump_dom(paths["html"], tmp_path)
    assert re.search(r'<body[^>]*data-probed="1"', dom)  # only the control image
    assert len(re.findall(r"<table", dom)) >= 2
    assert "ft is faster in" in dom and 'class="badge v-faster"' in dom
