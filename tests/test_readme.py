"""What the README says is what happens: it stands alone in a clone, and the walkthrough it shows is the
one `dev.py serve` prints."""

import re
from pathlib import Path

import pytest

from clients.management.commands.seed_demo import curl_walkthrough

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("document", DOCS, ids=lambda path: path.name)
def test_every_link_points_at_a_file_in_this_repository(document):
    """No `../shared/…` that a clone cannot follow; the README links to anchors and repo files only."""
    text = document.read_text()
    for target in LINK.findall(text):
        if target.startswith("#"):
            continue
        if "://" in target or target.startswith("mailto:"):
            assert document.name != "README.md", f"the README links outside the repository: {target}"
            continue  # the guides may cite an RFC
        path = (document.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT), f"{document.name} leaves the repository: {target}"
        assert path.exists(), f"{document.name} links to a missing file: {target}"


def test_readme_anchors_exist():
    text = (ROOT / "README.md").read_text()
    headings = {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in text.splitlines()
        if line.startswith("#") and not line.startswith("# ")
    }
    anchors = {target[1:] for target in LINK.findall(text) if target.startswith("#")}
    assert anchors and anchors <= headings


def test_the_readme_shows_exactly_the_walkthrough_that_dev_py_serve_prints():
    shown = curl_walkthrough("http://127.0.0.1:8000", "demo-community", "bfl_sk_…")
    assert shown in (ROOT / "README.md").read_text()


def test_the_walkthrough_shows_every_status_and_every_endpoint():
    text = curl_walkthrough("http://127.0.0.1:9999", "demo-community", "bfl_sk_real")
    calls = [line for line in text.splitlines() if line.startswith(("curl ", "TOKEN=$(curl"))]
    shown = [call for call in calls if call.startswith("curl ")]
    assert shown and all(call.startswith("curl -i ") for call in shown)
    for path in ("/auth/token", "/get-bflus", "/auth/me", "/auth/revoke", "/auth/revocation-requests"):
        assert any(path in call for call in calls), path
    assert "http://127.0.0.1:9999/" in text and "bfl_sk_real" in text and "bfl_sk_…" not in text


def test_the_error_list_names_every_error_code_and_the_fields_key():
    from bfluence import errors

    readme = (ROOT / "README.md").read_text()
    codes = {
        cls.default_code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.ApiError)
    }
    assert "service_unavailable" in codes
    section = readme[
        readme.index("Errors always have one shape") : readme.index("### For partner developers")
    ]
    assert [code for code in sorted(codes) if f"`{code}`" not in section] == []
    assert "`fields`" in section
