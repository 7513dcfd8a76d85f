"""The book's answer at a glance: every claim against every data set and every reading it was measured under,
coloured by verdict, each cell a link to the section that measures the claim. An HTML figure (a grid of coloured
cells), so that it reads in the static book without a kernel and every cell is a link."""

from __future__ import annotations

import html

from hcvae.chapters.ledger import MARKS

CLASSES = {"reproduced": "sb-yes", "not reproduced": "sb-no", "depends on reading": "sb-depends",
           "not comparable": "sb-other", "not testable here": "sb-none"}
DATASET_NAMES = {"synthetic": "synthetic", "digits": "digits", "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST",
                 "cifar10": "CIFAR-10"}


def claim_anchor(claim_id: str) -> str:
    """The id of the target a chapter page puts before the section that measures a claim (``(claim-<id>)=``)."""
    return f"claim-{claim_id}"


def scoreboard(board: dict, page_prefix: str = "../notebooks/") -> str:
    """The grid of :func:`hcvae.book.claims.scoreboard` as HTML: a row per claim (its verdict, then a cell per data
    set and per reading it was measured under), a legend, and every cell a link to the claim's section
    (``page_prefix`` + its chapter + ``#`` + :func:`claim_anchor`)."""
    datasets, columns = board["datasets"], board["columns"]

    def cell(verdict: str | None, what: str, link: str) -> str:
        if verdict is None:
            return "<td class='sb-empty'></td>"
        return (f"<td class='{CLASSES[verdict]}' title='{html.escape(what)}: {html.escape(verdict)}'>"
                f"<a href='{link}'>{html.escape(MARKS[verdict])}</a></td>")

    groups = ((f"<th colspan='{len(datasets)}' class='sb-group'>by data set</th>" if datasets else "")
              + (f"<th colspan='{len(columns)}' class='sb-group'>by reading of the text</th>" if columns else ""))
    head = "".join(f"<th class='sb-col'>{html.escape(DATASET_NAMES.get(d, d))}</th>" for d in datasets) + "".join(
        f"<th class='sb-col'>{html.escape(c)}</th>" for c in columns)
    n = len(datasets) + len(columns)
    # fixed widths: the claim's text wide enough to read in two or three lines, each verdict cell a mark's width
    cols = "<col style='width: 30%'><col style='width: 12%'>" + f"<col style='width: {58 / max(n, 1):.2f}%'>" * n
    lines = [f"<div class='sb-wrap'><table class='scoreboard'><colgroup>{cols}</colgroup>",
             f"<thead><tr><th rowspan='2' class='sb-claim'>claim</th><th rowspan='2'>verdict</th>{groups}</tr>"
             f"<tr>{head}</tr></thead><tbody>"]
    for row in board["rows"]:
        link = f"{page_prefix}{row['chapter']}.html#{claim_anchor(row['id'])}"
        cells = "".join(cell(row["by_dataset"].get(d), DATASET_NAMES.get(d, d), link) for d in datasets) + "".join(
            cell(row["cells"].get(c), c, link) for c in columns)
        lines.append(f"<tr><th class='sb-claim'><a href='{link}'>{html.escape(row['label'])}</a></th>"
                     f"<td class='{CLASSES[row['verdict']]}'><a href='{link}'>{html.escape(row['verdict'])}</a></td>"
                     f"{cells}</tr>")
    legend = " ".join(f"<span class='{cls}'>{MARKS[v]} {html.escape(v)}</span>" for v, cls in CLASSES.items())
    lines.append(f"</tbody></table><p class='sb-legend'>{legend}</p></div>")
    return "\n".join(lines)
