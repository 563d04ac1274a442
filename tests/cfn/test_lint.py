"""cfn-lint and checkov over every template: no error, no warning, no unexplained suppression.

    .venv/bin/python -m pytest tests/cfn -q

checkov pins an old boto3 that would break the emulator's pins, so it lives in its own virtual
environment (tests/cfn/requirements-checkov.txt): the check looks for it in $CHECKOV, then
.venv-checkov/bin/checkov, then .venv/bin/checkov, then PATH.
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
from cfn import RENDERED, ROOT, TEMPLATES, load, walk


def test_there_are_templates() -> None:
    names = {p.name for p in TEMPLATES}
    assert {"central-reporting.yaml", "quicksight.yaml", "member-data-sync.yaml",
            "member-patching.yaml", "cloudtrail-lake.yaml"} <= names


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_cfn_lint_no_errors_no_warnings(path: pathlib.Path) -> None:
    result = subprocess.run([str(pathlib.Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", str(path)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_cfn_lint_suppression_says_why(path: pathlib.Path) -> None:
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if "ignore_checks" in line:
            before = lines[i - 1].strip() if i else ""
            assert before.startswith("#") or "#" in line, f"{path.name}:{i + 1}: ignore_checks without a reason"
    template = load(path)
    assert "cfn-lint" not in template.get("Metadata", {}), "no template-wide suppression"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_checkov_skip_says_why(path: pathlib.Path) -> None:
    for name, res in load(path)["Resources"].items():
        for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (name, skip)
            assert len(skip.get("comment", "").split()) >= 5, f"{name}: skip {skip['id']} needs a reason"
    assert "checkov:skip" not in path.read_text(), "use resource Metadata, with a comment, to skip"


def checkov_command() -> list[str]:
    for candidate in (os.environ.get("CHECKOV"), ROOT / ".venv-checkov" / "bin" / "checkov",
                      ROOT / ".venv" / "bin" / "checkov", shutil.which("checkov")):
        if candidate and pathlib.Path(candidate).is_file():
            return [str(candidate)]
    pytest.fail("checkov not found: make .venv-checkov/.installed "
                "(installs tests/cfn/requirements-checkov.txt with hashes), or set CHECKOV")


def flipped(path: pathlib.Path) -> str:
    """The template with every "true"/"false" parameter default inverted and empty defaults
    filled, so that checkov (which evaluates conditions with the defaults) sees the resources the
    defaults leave out."""
    text = path.read_text()
    lines = text.splitlines()
    out, in_params, current = [], False, None
    for line in lines:
        if re.match(r"^Parameters:", line):
            in_params = True
        elif re.match(r"^\S", line):
            in_params = False
        if in_params and (m := re.match(r"^  (\w+):$", line)):
            current = m.group(1)
        if in_params and (m := re.match(r'^(    Default: )"(true|false)"$', line)):
            line = m.group(1) + ('"false"' if m.group(2) == "true" else '"true"')
        elif in_params and re.match(r'^    Default: ""$', line):
            fill = {"KmsKeyArn": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
            line = f'    Default: "{fill.get(current, "example-value")}"'
        out.append(line)
    return "\n".join(out) + "\n"


def test_checkov_no_failed_check(tmp_path: pathlib.Path) -> None:
    (tmp_path / "defaults").mkdir()
    (tmp_path / "flipped").mkdir()
    for path in TEMPLATES:
        shutil.copy(path, tmp_path / "defaults" / path.name)
        (tmp_path / "flipped" / path.name).write_text(flipped(path))
    resource_count = sum(len(load(path)["Resources"]) for path in TEMPLATES)
    failures = []
    for variant in ("defaults", "flipped"):
        result = subprocess.run(
            checkov_command() + ["-d", str(tmp_path / variant), "--framework", "cloudformation",
                                 "--skip-download", "--quiet", "-o", "json"],
            capture_output=True, text=True, cwd=ROOT,
            env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"})
        assert result.stdout.strip(), result.stderr[-2000:]
        reports = json.loads(result.stdout)
        reports = [r for r in (reports if isinstance(reports, list) else [reports])
                   if isinstance(r, dict) and r.get("check_type") == "cloudformation"]
        # A run that parsed nothing reports no failure either: make sure it read every template.
        assert reports, f"{variant}: checkov scanned no CloudFormation template\n{result.stdout[-2000:]}"
        for report in reports:
            summary = report["summary"]
            assert summary["parsing_errors"] == 0 and summary["resource_count"] == resource_count, \
                f"{variant}: {summary}, {resource_count} resources in the templates"
            for check in report.get("results", {}).get("failed_checks", []):
                failures.append(f"{variant}{check['file_path']}: {check['check_id']} {check['check_name']} "
                                f"({check['resource']})")
    assert not failures, "\n".join(failures)


def test_flipped_variant_creates_the_optional_resources() -> None:
    text = flipped(RENDERED / "central-reporting.yaml")
    assert 'EnableConfigAnalytics:\n    Type: String\n    Default: "true"' in text
