"""A plain document (title, sections of paragraphs, bullet lists and tables) rendered as Markdown or HTML:
what `carelake report` writes, so its content is built once and each format only renders it."""

from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    title: str
    blocks: list[str | list[str] | Table] = field(default_factory=list)  # a paragraph, a bullet list or a table

    def add(self, *blocks: str | list[str] | Table) -> Section:
        self.blocks.extend(b for b in blocks if b)
        return self


@dataclass
class Document:
    title: str
    sections: list[Section] = field(default_factory=list)


def to_markdown(doc: Document) -> str:
    out = [f"# {doc.title}", ""]
    for section in doc.sections:
        out += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Table):
                out += [_md_row(block.header), _md_row(["---"] * len(block.header)), *map(_md_row, block.rows)]
            elif isinstance(block, list):
                out += [f"- {item}" for item in block]
            else:
                out.append(block)
            out.append("")
    return "\n".join(out)


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


_STYLE = ("body{font-family:sans-serif;max-width:70em;margin:2em auto;line-height:1.4}"
          "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #bbb;padding:.2em .5em;text-align:left;"
          "vertical-align:top}th{background:#eee}code{background:#f4f4f4}")


def to_html(doc: Document) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{e(doc.title)}</title>",
           f"<style>{_STYLE}</style></head><body>", f"<h1>{e(doc.title)}</h1>"]
    for section in doc.sections:
        out.append(f"<h2>{e(section.title)}</h2>")
        for block in section.blocks:
            if isinstance(block, Table):
                out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in block.header) + "</tr>")
                out += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in block.rows]
                out.append("</table>")
            elif isinstance(block, list):
                out.append("<ul>" + "".join(f"<li>{e(item)}</li>" for item in block) + "</ul>")
            else:
                out.append(f"<p>{e(block)}</p>")
    out.append("</body></html>")
    return "\n".join(out)
