from __future__ import annotations

from attribution_corpus import STDLIB, UNSEEN, function_lines, lines_of

from attribution.search import code_tokens


def test_identifiers_kept_whole_and_split_on_case_and_underscores():
    tokens = list(code_tokens("class HTTPServerV2(get_doc_by_ptr): pass"))
    assert {"httpserverv2", "http", "server", "get_doc_by_ptr", "get", "doc", "by", "ptr"} <= set(tokens)


def test_paraphrased_function_ranks_its_source_file_first(att):
    path = STDLIB / "fnmatch.py"
    start, end = function_lines(path, "translate")
    # Renamed locals and reflowed: no 64-byte verbatim span may survive, but the identifiers do.
    text = lines_of(path, start, end).replace("    ", "  ").replace("res", "out")
    result = att.check(text)
    assert result["search"][0]["path"] == "fnmatch.py"
    hit = result["search"][0]
    assert start - 5 <= hit["start_line"] <= end and hit["end_line"] >= hit["start_line"]


def test_search_line_span_follows_exact_match(att):
    path = STDLIB / "shlex.py"
    start, end = function_lines(path, "split")
    hit = next(h for h in att.check(lines_of(path, start, end))["search"] if h["path"] == "shlex.py")
    assert (hit["start_line"], hit["end_line"]) == (start, end)


def test_query_syntax_characters_do_not_break_search(att):
    for snippet in ('foo AND bar OR (baz NOT "qux*") : [1 TO 5] ^2 ~', "*", "()", '"', UNSEEN):
        result = att.check(snippet)
        assert isinstance(result["search"], list)


def test_scores_are_best_first(att):
    scores = [h["score"] for h in att.check(UNSEEN)["search"]]
    assert scores == sorted(scores, reverse=True)
