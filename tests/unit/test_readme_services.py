"""The suite-file examples of the README's "Services" section validate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runner.scenario import validate_paths

README = Path(__file__).resolve().parents[2] / "README.md"


def _service_examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index("### Services: starting the server under test")
    section = text[start : text.index("\n## ", start)]
    return re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)


def test_the_section_has_examples() -> None:
    assert len(_service_examples()) >= 2


@pytest.mark.parametrize("example", _service_examples())
def test_service_example_validates(example: str, tmp_path: Path) -> None:
    (tmp_path / "wsrun-suite.yaml").write_text(example, encoding="utf-8")
    (tmp_path / "s.yaml").write_text("steps: [{connect: '${base_url}/echo'}]\n", encoding="utf-8")
    assert [str(error) for error in validate_paths([tmp_path])] == []
