"""The attribution server's "Am I in The Stack?" page: which of a repository's or an owner's files
the curate run behind the index kept, and which it removed and why.

    GET /lookup                          the page (a form; results fetched from the API below)
    GET /api/lookup?repo=owner/name      starforge/formats/run_lookup.py's object, as JSON
    GET /api/lookup?owner=owner

The run is the index's input (`input:` in its config.yaml: a curate output, or its kept/);
an index built from a plain folder has no run to look up (404 with the reason).
"""

from __future__ import annotations

import html
import json
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from starforge.errors import StarforgeError
from starforge.formats.run_lookup import lookup_records

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Am I in the data?</title>
<style>body{font:15px system-ui,sans-serif;margin:2rem;max-width:70rem}input{font:inherit;padding:.3rem;width:20rem}
table{border-collapse:collapse;margin-top:1rem}td,th{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:left}
.kept{color:#14632a}.removed{color:#8a1c1c}#summary{margin-top:1rem;font-weight:600}</style></head>
<body><h1>Am I in the data?</h1>
<p>Curate run: <code>__RUN__</code>. Give a repository (<code>owner/name</code>) or an owner.</p>
<form id="f"><input id="q" name="q" placeholder="owner/name or owner" autofocus>
<button type="submit">Look up</button></form>
<div id="summary"></div><table id="t" hidden><thead><tr><th>status</th><th>path</th><th>licence</th>
<th>detail</th></tr></thead><tbody></tbody></table>
<p>To be removed, send a list of repositories or paths to the dataset's maintainers: they run
<code>starforge data opt-out RUN_DIR --list FILE</code>.</p>
<script>
document.getElementById("f").addEventListener("submit", async (e) => {
  e.preventDefault();
  const q = document.getElementById("q").value.trim();
  const key = q.includes("/") ? "repo" : "owner";
  const r = await fetch(`/api/lookup?${key}=${encodeURIComponent(q)}`);
  const data = await r.json();
  const summary = document.getElementById("summary"), table = document.getElementById("t");
  const body = table.querySelector("tbody");
  body.replaceChildren();
  if (!r.ok) { summary.textContent = data.error; table.hidden = true; return; }
  summary.textContent = `${q}: ${data.counts.kept} files kept, ${data.counts.removed} removed`;
  const rows = data.kept.map(x => ["kept", x.path, x.licence, ""]).concat(data.removed.map(x =>
    [x.reason, x.path, x.licence, x.non_permissive || x.duplicate_of || x.opt_out_entry || x.read_error || ""]));
  for (const row of rows) {
    const tr = document.createElement("tr");
    tr.className = row[0] === "kept" ? "kept" : "removed";
    for (const cell of row) { const td = document.createElement("td"); td.textContent = cell; tr.append(td); }
    body.append(tr);
  }
  table.hidden = rows.length === 0;
});
</script></body></html>
"""


def run_dir_of(index_input: Path | None) -> Path | None:
    """The curate run an index was built from, or None (a plain folder, or no input recorded)."""
    if index_input is None:
        return None
    path = Path(index_input)
    run = path.parent if path.name == "kept" else path
    return run if (run / "kept").is_dir() else None


def route(path: str, run: Path | None) -> tuple[int, bytes, str] | None:
    """(status, body, content type) for the lookup page and API, or None for other paths."""
    parts = urlsplit(path)
    if parts.path == "/lookup":
        shown = html.escape(str(run) if run else "none (this index was built from a plain folder)")
        return HTTPStatus.OK, PAGE.replace("__RUN__", shown).encode("utf-8"), "text/html; charset=utf-8"
    if parts.path != "/api/lookup":
        return None
    if run is None:
        return _json(HTTPStatus.NOT_FOUND, {"error": "this index was not built from a `starforge data curate` "
                                                     "run, so there is no kept/removed record to look up"})
    query = parse_qs(parts.query)
    repo, owner = (query.get("repo") or [None])[0], (query.get("owner") or [None])[0]
    try:
        return _json(HTTPStatus.OK, lookup_records(run, repo=repo, owner=owner))
    except StarforgeError as exc:
        return _json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})


def _json(status: int, obj: object) -> tuple[int, bytes, str]:
    return status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8"
