"""Each arbedb rule: its bad fixture yields exactly the marked findings, its good fixture none."""

from __future__ import annotations

from collections import Counter

import pytest
from lint_support import FIXTURES, expected, fixture, lint_fixture

from arbedb.lint.rules import all_rules

CODES = [m.CODE for m in all_rules()]


def test_every_rule_has_both_fixtures():
    for code in CODES:
        assert fixture(code, "bad").exists() and fixture(code, "good").exists(), f"{code} lacks a fixture"
    assert {p.name for p in FIXTURES.iterdir() if p.is_dir()} <= set(CODES)


@pytest.mark.parametrize("code", CODES)
def test_bad_fixture_gives_the_marked_findings(code):
    bad = fixture(code, "bad")
    want = expected(bad)
    assert want, f"{bad} marks no expected finding"
    found = lint_fixture(bad)
    got = Counter((f.path, f.line, f.code) for f in found if f.code == code)
    assert got == want, "\n".join(f.line_text() for f in found if f.code == code)
    for finding in found:
        if finding.code == code:
            assert finding.fix and finding.message


@pytest.mark.parametrize("code", CODES)
def test_good_fixture_passes(code):
    found = [f for f in lint_fixture(fixture(code, "good")) if f.code == code]
    assert not found, "\n".join(f.line_text() for f in found)


@pytest.mark.parametrize("module", all_rules(), ids=CODES)
def test_rule_documents_itself(module):
    doc = module.__doc__ or ""
    assert "Why" in doc and "Bad::" in doc and "Good::" in doc, f"{module.CODE}: docstring needs why/bad/good"
    assert module.SCOPE in ("schema", "files")


def test_docs_list_every_rule():
    doc = (FIXTURES.parents[2] / "docs" / "lint.md").read_text()
    for module in all_rules():
        assert f"| {module.CODE} | {module.TITLE} | {module.SCOPE} |" in doc, f"docs/lint.md lacks {module.CODE}"
