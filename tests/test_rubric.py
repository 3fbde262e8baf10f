"""The rubric is data: it loads, it is complete, and a broken file is named with its field."""

from __future__ import annotations

import shutil

import pytest
import yaml

import reviewer
from reviewer.errors import RubricError
from reviewer.models import CRITERION_IDS
from reviewer.rubric import load_rubric

from .conftest import RUBRICS


def test_all_criteria_in_order(rubric):
    assert [c.id for c in rubric.criteria] == list(CRITERION_IDS)


def test_every_criterion_points_to_an_article_chapter(rubric):
    for crit in rubric.criteria:
        assert 1 <= crit.chapter.number <= 16
        assert crit.chapter.title.ja and crit.chapter.title.en
        assert crit.questions.author and crit.questions.vendor


def test_every_criterion_has_patterns_in_both_languages(rubric):
    for crit in rubric.criteria:
        assert crit.topic.ja and crit.topic.en, crit.id
        for aspect in crit.aspects:
            assert aspect.patterns.ja and aspect.patterns.en, f"{crit.id}.{aspect.id}"


def test_vendor_weighs_most_in_vendor_sow(rubric):
    weights = rubric.settings.profiles["vendor_sow"].weights
    assert max(weights, key=weights.get) == "VENDOR"
    assert len(rubric.criterion("VENDOR").aspects) >= 5


def test_progress_report_warning_signs_are_red_flags(rubric):
    only_reports = {
        f.id for c in rubric.criteria for f in c.red_flags if f.kinds == ["progress_report"]
    }
    assert {"ROLES.no_decisions", "FIELD.too_busy"} <= only_reports
    assert "EXPECT.accuracy_only" in {f.id for f in rubric.criterion("EXPECT").red_flags}


def _copy(tmp_path):
    target = tmp_path / "rubrics"
    shutil.copytree(RUBRICS, target)
    return target


def test_broken_field_is_named(tmp_path):
    root = _copy(tmp_path)
    path = root / "criteria" / "KPI.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["aspects"][1]["needs"] = ["vibes"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RubricError) as err:
        load_rubric(root)
    assert "KPI.yaml" in str(err.value) and "aspects.1.needs.0" in str(err.value)


def test_bad_regex_is_named(tmp_path):
    root = _copy(tmp_path)
    path = root / "criteria" / "DATA.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["topic"]["en"].append("(unclosed")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RubricError, match=r"DATA\.yaml: topic\.en.*does not compile"):
        load_rubric(root)


def test_yaml_syntax_error_gives_line(tmp_path):
    root = _copy(tmp_path)
    (root / "signals.yaml").write_text("signals: [\n  - kind: quantity\n", encoding="utf-8")
    with pytest.raises(RubricError, match=r"signals\.yaml: line \d+: not valid YAML"):
        load_rubric(root)


def test_missing_criterion_file(tmp_path):
    root = _copy(tmp_path)
    (root / "criteria" / "OPS.yaml").unlink()
    with pytest.raises(RubricError, match="missing criteria: OPS"):
        load_rubric(root)


def test_unknown_criterion_id(tmp_path):
    root = _copy(tmp_path)
    path = root / "criteria" / "OPS.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("id: OPS", "id: OPERATIONS", 1), encoding="utf-8"
    )
    with pytest.raises(RubricError, match=r"OPS\.yaml: id: .*unknown criterion id 'OPERATIONS'"):
        load_rubric(root)


def test_public_api_is_pinned():
    assert sorted(reviewer.__all__) == sorted(
        [
            "Document",
            "ParseError",
            "Review",
            "ReviewerError",
            "RubricError",
            "__version__",
            "load_rubric",
            "parse_file",
            "render",
            "review",
        ]
    )
    for name in reviewer.__all__:
        assert getattr(reviewer, name) is not None


def test_start_up_stamp_changes_nothing(tmp_path):
    """The second run loads the rubric from the cache stamp; its review must equal the first."""
    import json
    import os
    import subprocess
    import sys

    from .conftest import SAMPLES

    env = {**os.environ, "REVIEWER_CACHE_DIR": str(tmp_path)}
    cmd = [
        sys.executable,
        "-m",
        "reviewer.cli",
        str(SAMPLES / "ja-poc-plan-strong.docx"),
        "--format",
        "json",
    ]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    assert list(tmp_path.glob("rubric-*.json")), "no stamp written"
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    assert json.loads(first) == json.loads(second)


def test_the_stamped_rubric_equals_the_yaml_and_a_broken_stamp_is_ignored(tmp_path):
    """The stamp carries the parsed rubric files; loading from it must give the same rubric, and a
    damaged stamp must only cost the start-up time."""
    import os
    import subprocess
    import sys

    probe = (
        "import json\n"
        "from reviewer.rubric import load_rubric\n"
        "print(json.dumps(load_rubric().model_dump(mode='json'), sort_keys=True))\n"
    )
    env = {**os.environ, "REVIEWER_CACHE_DIR": str(tmp_path)}

    def dump():
        return subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
        ).stdout

    from_yaml = dump()
    (stamp,) = tmp_path.glob("rubric-*.json")
    assert dump() == from_yaml
    stamp.write_text('{"literals": {}, "files": {"rubric.yaml": 7', encoding="utf-8")
    assert dump() == from_yaml
