"""Markdown and HTML reports that the Kubeflow UI shows for `Markdown` and `HTML` artifacts."""
import html
import numbers

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#202124}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #dadce0;padding:.3em .6em;text-align:left}
th{background:#f1f3f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#188038;font-weight:600}.fail{color:#d93025;font-weight:600}.warn{color:#e37400}
"""


def format_value(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{value:,}"
    if isinstance(value, numbers.Real):
        if float(value).is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:.4g}"
    return str(value)


def markdown_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = [format_value(cell).replace("|", "\\|") for cell in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def html_table(headers: list[str], rows: list[list], css_classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for index, row in enumerate(rows):
        row_class = f' class="{css_classes[index]}"' if css_classes and css_classes[index] else ""
        cells = "".join(_html_cell(cell) for cell in row)
        body.append(f"<tr{row_class}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html_cell(cell) -> str:
    is_number = isinstance(cell, numbers.Number) and not isinstance(cell, bool)
    css = ' class="num"' if is_number else ""
    return f"<td{css}>{html.escape(format_value(cell))}</td>"


def html_page(title: str, sections: list[tuple[str, str]]) -> str:
    """A self-contained page: `sections` are (heading, HTML body) pairs."""
    parts = [f"<h2>{html.escape(heading)}</h2>{body}" for heading, body in sections]
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{''.join(parts)}</body></html>\n"
    )


def verdict(passed: bool) -> str:
    css = "ok" if passed else "fail"
    return f'<span class="{css}">{"PASS" if passed else "FAIL"}</span>'
