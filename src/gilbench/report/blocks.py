"""A tiny document model rendered twice: to GitHub-flavoured Markdown and to one self-contained
HTML page (inline CSS, images as base64 ``data:`` URIs, no script, nothing fetched).

Building the report as blocks once and rendering it twice keeps report.md and report.html
saying the same thing. Inline text uses a small Markdown subset: ``**bold**``, ``*italic*``,
```code```; the HTML renderer escapes everything else.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, Union


@dataclass
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass
class Para:
    text: str
    css: str = ""  # extra class in HTML (e.g. "lead", "note")


@dataclass
class Badge:
    """A verdict badge: ``code`` picks the colour, ``text`` is shown, ``title`` is the tooltip."""

    code: str
    text: str
    title: str = ""
    detail: str = ""  # plain text after the badge (numbers)
    warn: bool = False  # ⚠ unstable


Cell = Union[str, Badge]


@dataclass
class Table:
    header: list[str]
    rows: list[list[Cell]]
    align: list[str] = field(default_factory=list)  # "l" | "r" | "c" per column
    css: str = ""


@dataclass
class Image:
    path: Path  # PNG file in the output directory
    alt: str
    caption: str = ""


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Details:
    """Collapsed in HTML (``<details>``); a plain section in Markdown."""

    summary: str
    blocks: list["Block"]
    open: bool = False


@dataclass
class RawMarkdown:
    """Markdown (from a plug-in, or the printed rule); converted to HTML with
    ``markdown_to_html`` and wrapped in a ``<div class=css>`` when ``css`` is set."""

    text: str
    css: str = ""


Block = Union[Heading, Para, Table, Image, Bullets, Details, RawMarkdown]


# --------------------------------------------------------------------------------------------
# Markdown


def _md_cell(cell: Cell) -> str:
    if isinstance(cell, Badge):
        text = f"**{cell.text}**" + (" ⚠" if cell.warn else "")
        if cell.detail:
            text += f" {cell.detail}"
    else:
        text = cell
    # a pipe or a newline would break the table row; a "<" from an error message
    # ("<lambda>") would be read as raw HTML by GFM renderers
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").strip() or " "


def md_table(table: Table) -> str:
    """A GFM table: header, separator row, one line per row, all with the same column count."""
    ncol = len(table.header)
    align = (table.align + ["l"] * ncol)[:ncol]
    sep = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(_md_cell(h) for h in table.header) + " |",
             "| " + " | ".join(sep[a] for a in align) + " |"]
    for row in table.rows:
        if len(row) != ncol:
            raise ValueError(f"table row has {len(row)} cells, header has {ncol}")
        lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
    return "\n".join(lines)


def to_markdown(blocks: Sequence[Block], _depth: int = 0) -> str:
    """The blocks as Markdown; images are referenced by file name (next to report.md)."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Table):
            out.append(md_table(b))
        elif isinstance(b, Image):
            out.append(f"![{b.alt}]({b.path.name})" + (f"\n\n*{b.caption}*" if b.caption else ""))
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {item}" for item in b.items))
        elif isinstance(b, Details):
            out.append(f"**{b.summary}**")
            out.append(to_markdown(b.blocks, _depth + 1))
        elif isinstance(b, RawMarkdown):
            out.append(b.text.strip())
        else:  # pragma: no cover - a programming error
            raise TypeError(f"unknown block {b!r}")
    return "\n\n".join(x for x in out if x) + ("\n" if _depth == 0 else "")


# --------------------------------------------------------------------------------------------
# HTML

_INLINE = [
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"<em>\1</em>"),
]


#: only links to anchors inside the page: the report fetches and points at nothing outside
_LINK = re.compile(r"\[([^\]]+)\]\((#[A-Za-z0-9_-]+)\)")


def inline(text: str) -> str:
    """Escape ``text`` for HTML and turn the inline Markdown subset into tags."""
    # code spans first, kept out of the bold/italic pass
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
            continue
        s = html.escape(part, quote=False)
        s = _LINK.sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', s)
        s = _INLINE[1][0].sub(_INLINE[1][1], s)
        s = _INLINE[2][0].sub(_INLINE[2][1], s)
        out.append(s)
    return "".join(out)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def data_uri(path: Path) -> str:
    """The PNG file as a base64 ``data:`` URI (the page then needs no files beside it)."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _html_cell(cell: Cell, tag: str, align: str) -> str:
    style = {"r": ' class="num"', "c": ' class="center"'}.get(align, "")
    if isinstance(cell, Badge):
        title = f' title="{html.escape(cell.title)}"' if cell.title else ""
        warn = ' <span class="warn" title="unstable">⚠</span>' if cell.warn else ""
        detail = f' <span class="detail">{inline(cell.detail)}</span>' if cell.detail else ""
        body = (f'<span class="badge v-{html.escape(cell.code)}"{title}>'
                f"{html.escape(cell.text)}</span>{warn}{detail}")
    else:
        body = inline(cell)
    return f"<{tag}{style}>{body}</{tag}>"


def html_table(table: Table) -> str:
    ncol = len(table.header)
    align = (table.align + ["l"] * ncol)[:ncol]
    head = "".join(_html_cell(h, "th", a) for h, a in zip(table.header, align))
    body = "\n".join(
        "<tr>" + "".join(_html_cell(c, "td", a) for c, a in zip(row, align)) + "</tr>"
        for row in table.rows)
    css = f' class="{table.css}"' if table.css else ""
    return (f'<div class="scroll"><table{css}>\n<thead><tr>{head}</tr></thead>\n'
            f"<tbody>\n{body}\n</tbody></table></div>")


def to_html_body(blocks: Sequence[Block], image_dir: Path | None = None) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            anchor = b.anchor or slug(b.text)
            out.append(f'<h{b.level} id="{anchor}">{inline(b.text)}</h{b.level}>')
        elif isinstance(b, Para):
            css = f' class="{b.css}"' if b.css else ""
            out.append(f"<p{css}>{inline(b.text)}</p>")
        elif isinstance(b, Table):
            out.append(html_table(b))
        elif isinstance(b, Image):
            cap = f"<figcaption>{inline(b.caption)}</figcaption>" if b.caption else ""
            out.append(f'<figure><img src="{data_uri(b.path)}" alt="{html.escape(b.alt)}">'
                       f"{cap}</figure>")
        elif isinstance(b, Bullets):
            out.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Details):
            op = " open" if b.open else ""
            out.append(f"<details{op}><summary>{inline(b.summary)}</summary>"
                       f"{to_html_body(b.blocks, image_dir)}</details>")
        elif isinstance(b, RawMarkdown):
            body = markdown_to_html(b.text, image_dir)
            out.append(f'<div class="{b.css}">{body}</div>' if b.css else body)
        else:  # pragma: no cover
            raise TypeError(f"unknown block {b!r}")
    return "\n".join(out)


CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#ffffff; --soft:#f6f8fa;
  --par:#1a7f37; --part:#9a6700; --conc:#57606a; --slow:#cf222e; --fail:#82071e; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font:15px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; }
main { max-width: 1320px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.3em; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.08em; margin: 24px 0 6px; }
p.host { color: var(--muted); margin: 0 0 12px; }
p.lead { font-size: 1.06em; background: var(--soft); border-left: 4px solid var(--par);
  padding: 10px 14px; border-radius: 4px; }
p.warning { background: #fff8c5; border-left: 4px solid #bf8700; padding: 10px 14px;
  border-radius: 4px; }
p.note, .rule { color: var(--muted); font-size: .92em; }
.rule { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 4px 14px; }
.rule ol { margin: 4px 0 8px; padding-left: 22px; }
nav.toc { font-size: .92em; color: var(--muted); margin: 8px 0 0; }
nav.toc a { color: #0969da; text-decoration: none; margin-right: 14px; }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: var(--soft); padding: 1px 4px; border-radius: 4px; }
.scroll { overflow-x: auto; margin: 8px 0 12px; }
table { border-collapse: collapse; font-size: .9em; }
th, td { border: 1px solid var(--line); padding: 4px 8px; vertical-align: top; }
th { background: var(--soft); text-align: left; font-weight: 600; white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.center, th.center { text-align: center; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: .86em;
  font-weight: 600; color: #fff; white-space: nowrap; }
.v-parallel { background: var(--par); } .v-partial { background: var(--part); }
.v-concurrent { background: var(--conc); } .v-slower { background: var(--slow); }
.v-failed { background: var(--fail); } .v-baseline, .v-single { background: #8c959f; }
.v-confirmed { background: var(--par); } .v-refuted { background: var(--slow); }
.v-mixed { background: var(--part); } .v-not-measured { background: #d0d7de; color: var(--fg); }
.v-undecided, .v-inconclusive { background: #d0d7de; color: var(--fg); border: 1px dashed #8c959f; }
.v-above-cores { background: #8250df; }
.v-borderline { background: var(--part); border: 1px dashed #fff; }
.v-faster { background: var(--par); } .v-not-significant { background: #8c959f; }
.v-missing { background: #d0d7de; color: var(--fg); }
.warn { color: #bf8700; font-weight: 700; }
.detail { color: var(--muted); font-size: .88em; white-space: nowrap; }
table.verdicts td { white-space: nowrap; }
table.verdicts .detail { display: block; }
figure { margin: 12px 0 20px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: .9em; margin-top: 4px; }
details { margin: 8px 0; } summary { cursor: pointer; font-weight: 600; padding: 4px 0; }
footer { color: var(--muted); font-size: .85em; margin-top: 40px; border-top: 1px solid var(--line);
  padding-top: 8px; }
@media print { details { display: block; } nav.toc { display: none; } }
"""


def to_html(title: str, blocks: Sequence[Block], image_dir: Path | None = None,
            footer: str = "") -> str:
    """A complete, self-contained HTML page."""
    foot = f"<footer>{inline(footer)}</footer>" if footer else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{to_html_body(blocks, image_dir)}\n{foot}\n</main>\n</body>\n</html>\n"
    )


# --------------------------------------------------------------------------------------------
# Markdown subset -> HTML, for the experiments plug-in's sections

_IMG = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)\s*$")
_LIST_ITEM = re.compile(r"^([-*]|\d+\.)\s+(.*)$")
_TABLE_SEP = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells = re.split(r"(?<!\\)\|", line)
    return [c.strip().replace("\\|", "|") for c in cells]


def markdown_to_html(text: str, image_dir: Path | None = None) -> str:
    """Convert the Markdown a plug-in writes (headings, paragraphs, GFM tables, ``- `` lists,
    fenced code, images by file name, ``*emphasis*``) into HTML; images found in ``image_dir``
    are embedded as data URIs so the page stays self-contained."""
    lines = text.splitlines()
    out: list[str] = []
    para: list[str] = []
    i = 0

    def flush() -> None:
        if para:
            out.append(f"<p>{inline(' '.join(para))}</p>")
            para.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            code = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                code.append(lines[i])
                i += 1
            out.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
            i += 1
            continue
        if not stripped:
            flush()
            i += 1
            continue
        m = re.match(r"^(#{1,6})\s+(.*)$", stripped)
        if m:
            flush()
            lvl = len(m.group(1))
            out.append(f'<h{lvl} id="{slug(m.group(2))}">{inline(m.group(2))}</h{lvl}>')
            i += 1
            continue
        m = _IMG.match(stripped)
        if m:
            flush()
            alt, src = m.group(1), m.group(2)
            local = (image_dir / src) if image_dir is not None else None
            if local is not None and "/" not in src and local.is_file():
                src_attr = data_uri(local)
            else:
                src_attr = html.escape(src)
            out.append(f'<figure><img src="{src_attr}" alt="{html.escape(alt)}"></figure>')
            i += 1
            continue
        if stripped.startswith("|") and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1].strip()):
            flush()
            header = _split_row(stripped)
            aligns = []
            for spec in _split_row(lines[i + 1]):
                aligns.append("r" if spec.endswith(":") and not spec.startswith(":") else
                              "c" if spec.startswith(":") and spec.endswith(":") else "l")
            rows = []
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                row = _split_row(lines[i])
                rows.append((row + [""] * len(header))[: len(header)])
                i += 1
            out.append(html_table(Table(header, rows, aligns)))
            continue
        m = _LIST_ITEM.match(line)
        if m:
            flush()
            ordered = m.group(1)[0].isdigit()
            items = []
            while i < len(lines):
                m = _LIST_ITEM.match(lines[i])
                if m and m.group(1)[0].isdigit() == ordered:
                    items.append(m.group(2).strip())
                elif items and lines[i].startswith((" ", "\t")) and lines[i].strip():
                    items[-1] += " " + lines[i].strip()  # a continuation line of the item
                else:
                    break
                i += 1
            tag = "ol" if ordered else "ul"
            out.append(f"<{tag}>" + "".join(f"<li>{inline(x)}</li>" for x in items) + f"</{tag}>")
            continue
        para.append(stripped)
        i += 1
    flush()
    return "\n".join(out)
