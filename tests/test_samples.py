"""The bundled samples: the JSON contract, and levels that agree with each sidecar."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from reviewer.review import review

from .conftest import SAMPLES, assert_json_contract

SIDECARS = sorted((SAMPLES / "expected").glob("*.yaml"))


def _sidecar(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def reviews():
    return {p.name: review(SAMPLES / _sidecar(p)["document"], engine="rules") for p in SIDECARS}


def test_there_are_enough_samples():
    docs = [_sidecar(p) for p in SIDECARS]
    assert len(docs) >= 8
    formats = {d["document"].rsplit(".", 1)[1] for d in docs}
    assert {"docx", "pdf", "md"} <= formats
    assert {d["kind"] for d in docs} == {"poc_plan", "proposal", "vendor_sow", "progress_report"}
    assert {d["language"] for d in docs} == {"ja", "en"}


@pytest.mark.parametrize("sidecar", SIDECARS, ids=[p.stem for p in SIDECARS])
def test_levels_agree_with_sidecar(sidecar, reviews):
    expected = _sidecar(sidecar)
    got = reviews[sidecar.name]
    assert got.document.kind == expected["kind"]
    assert got.document.language == expected["language"]
    wrong = {
        cid: (got.criterion(cid).level, spec["level"])
        for cid, spec in expected["levels"].items()
        if got.criterion(cid).level != spec["level"]
    }
    assert not wrong, f"(got, expected) per criterion: {wrong}"
    if "verdict" in expected:
        assert got.overall.verdict == expected["verdict"]


def test_keyword_stuffed_samples_never_exceed_level_1(reviews):
    stuffed = [name for name in reviews if "keyword-stuffed" in name]
    assert len(stuffed) >= 2
    for name in stuffed:
        assert max(c.level for c in reviews[name].criteria) <= 1, name


@pytest.mark.parametrize("sidecar", SIDECARS[:3], ids=[p.stem for p in SIDECARS[:3]])
def test_cli_json_contract(sidecar):
    doc = SAMPLES / _sidecar(sidecar)["document"]
    out = subprocess.run(
        [sys.executable, "-m", "reviewer.cli", str(doc), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout)
    assert_json_contract(data)
    assert data["engine"] == "rules" and all(c["source"] == "rules" for c in data["criteria"])
