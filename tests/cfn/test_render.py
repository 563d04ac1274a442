"""cfn/render.py: the deployable templates and queries are made from one source per SQL text."""

from __future__ import annotations

import pathlib

import pytest

from cfn import CFN, QUERIES, RENDERED, TEMPLATES, render


def test_an_include_is_replaced_by_the_file_indented_as_the_line(tmp_path: pathlib.Path) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "cte.sql").write_text("info AS (\n    SELECT 1\n\n)\n")
    (tmp_path / "query.sql").write_text("WITH\n-- include: parts/cte.sql\nSELECT * FROM info\n")
    (tmp_path / "t.yaml").write_text("Q: |\n  -- include: query.sql\nNext: 1\n")
    assert render.expand(tmp_path / "t.yaml") == \
        "Q: |\n  WITH\n  info AS (\n      SELECT 1\n\n  )\n  SELECT * FROM info\nNext: 1\n"


def test_a_missing_file_or_a_cycle_is_an_error_naming_the_line(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.sql").write_text("x\n-- include: nowhere.sql\n")
    with pytest.raises(render.RenderError, match=r"a\.sql:2: includes nowhere\.sql, which does not exist"):
        render.expand(tmp_path / "a.sql")
    (tmp_path / "b.sql").write_text("-- include: c.sql\n")
    (tmp_path / "c.sql").write_text("-- include: b.sql\n")
    with pytest.raises(render.RenderError, match="an include cycle"):
        render.expand(tmp_path / "b.sql")


def test_the_rendered_files_have_no_include_left_and_every_part_is_used() -> None:
    assert {p.name for p in TEMPLATES} == {p.name for p in CFN.glob("*.yaml")}
    rendered = [p.read_text() for p in TEMPLATES] + [p.read_text() for p in (RENDERED / "queries").glob("*.sql")]
    assert not any("-- include:" in text for text in rendered)
    sources = "".join(p.read_text() for p in QUERIES.glob("*.sql"))
    for part in (QUERIES / "parts").glob("*.sql"):
        assert f"-- include: parts/{part.name}" in sources, f"{part.name} is included by no query"
