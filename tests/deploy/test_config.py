"""deploy/config.py: the example validates, and each kind of mistake is refused before any AWS call
with a message naming the key."""

from __future__ import annotations

import pathlib
import sys
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))

import config  # noqa: E402

EXAMPLE = ROOT / "deploy" / "example.toml"


def write(tmp_path: pathlib.Path, text: str) -> pathlib.Path:
    path = tmp_path / "deploy.toml"
    path.write_text(text)
    return path


def with_example(tmp_path: pathlib.Path, replace: tuple[str, str] | None = None, append: str = "") -> pathlib.Path:
    text = EXAMPLE.read_text()
    if replace:
        assert replace[0] in text, replace[0]
        text = text.replace(*replace)
    return write(tmp_path, text + append)


def problems(path: pathlib.Path) -> str:
    with pytest.raises(config.ConfigError) as e:
        config.load(path)
    return str(e.value)


def test_example_is_valid_and_documents_every_key() -> None:
    deployment = config.load(EXAMPLE)
    assert deployment.regions() == ["us-east-1", "eu-west-1"]
    # Every key of every section appears in the example, set or commented out with its meaning.
    text = EXAMPLE.read_text()

    def keys(model: type[config.BaseModel], prefix: str = ""):
        for name, info in model.model_fields.items():
            sub = info.annotation
            if isinstance(sub, type) and issubclass(sub, config.BaseModel):
                yield from keys(sub, f"{prefix}{name}.")
            else:
                yield prefix + name, name

    for dotted, name in keys(config.Deployment):
        if name == "parameters":
            continue
        assert f"{name} =" in text or f"# {name} =" in text, f"{dotted} is not documented in example.toml"


def test_missing_file_says_what_to_do(tmp_path) -> None:
    assert "copy deploy/example.toml" in problems(tmp_path / "absent.toml")


def test_invalid_toml(tmp_path) -> None:
    assert "not valid TOML" in problems(write(tmp_path, "organization_id = \n"))


def test_every_problem_names_its_key(tmp_path) -> None:
    path = with_example(tmp_path, ("organization_id = \"o-abcde12345\"", "organization_id = \"org-1\"\nregion = \"x\""))
    text = problems(path)
    assert "organization_id:" in text and "region: unknown key" in text


@pytest.mark.parametrize("old, new, expected", [
    ('regions = ["us-east-1", "eu-west-1"]', "regions = []", "members.regions:"),
    ('regions = ["us-east-1", "eu-west-1"]', 'regions = ["us-east-1", "us-east-1"]', "members.regions: lists each value once"),
    ('regions = ["us-east-1", "eu-west-1"]', 'regions = ["Ireland"]', "members.regions.0:"),
    ('organizational_units = ["r-ab12"]', 'organizational_units = ["engineering"]', "members.organizational_units.0:"),
    ('bucket_prefix = "acme-patch-artifacts"', 'bucket_prefix = "Acme_Artifacts"', "artifacts.bucket_prefix:"),
    ('call_as = "SELF"', 'call_as = "ADMIN"', "members.call_as:"),
    ("failure_tolerance_percentage = 10", "failure_tolerance_percentage = 150", "members.failure_tolerance_percentage:"),
    ('existing_bucket = ""', 'existing_bucket = "log-archive"', "existing_bucket and existing_bucket_account go together"),
    ('stack_name = "patch-compliance-reporting"', 'stack_name = "1-reporting"', "central.stack_name:"),
    ('alarm_email = "patch-alerts@example.com"', 'alarm_email = "nobody"', "central.alarm_email:"),
])
def test_bad_values(tmp_path, old, new, expected) -> None:
    assert expected in problems(with_example(tmp_path, (old, new)))


def test_quicksight_needs_principals(tmp_path) -> None:
    path = with_example(tmp_path, ("[quicksight]\n# The QuickSight data source and datasets (QuickSight must be "
                                   "subscribed in the central account).\nenabled = false",
                                   "[quicksight]\nenabled = true"))
    assert "principal_arns: name at least one" in problems(path)


def test_template_parameters_are_checked_against_the_template(tmp_path) -> None:
    path = with_example(tmp_path, ("# CrawlerSchedule = \"cron(15 2 * * ? *)\"",
                                   "CrawlerSchedul = \"x\"\nLogRetentionDays = 8\nKeepDataOnDelete = true\n"
                                   "StaleNodeFileDays = \"soon\""))
    text = problems(path)
    assert "central.parameters.CrawlerSchedul: central-reporting.yaml has no parameter CrawlerSchedul" in text
    assert "central.parameters.LogRetentionDays: '8' is not one of" in text
    assert "central.parameters.KeepDataOnDelete: set by the deployment itself" in text
    assert "central.parameters.StaleNodeFileDays: 'soon' is not a number" in text


def test_values_become_cloudformation_strings() -> None:
    assert config.as_parameter(True) == "true"
    assert config.as_parameter(["a", "b"]) == "a,b"
    assert config.as_parameter(90) == "90"


def test_example_parameters_tables_parse() -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    assert set(data) == set(config.Deployment.model_fields)


def test_patching_rules_need_the_config_bucket(tmp_path) -> None:
    path = with_example(tmp_path, ("[members.patching]\n# Optional: Config rules (on a recorder it creates only where none exists), SSM associations for\n# inventory and patch scans, baselines, an install window, and the EC2 OS tagger.\nenabled = false",
                                   "[members.patching]\nenabled = true"))
    assert "its Config rules need the organization Config bucket" in problems(path)


def test_a_delegated_administrator_needs_a_management_profile_for_the_management_stacks(tmp_path) -> None:
    text = EXAMPLE.read_text().replace('call_as = "SELF"', 'call_as = "DELEGATED_ADMIN"')
    path = tmp_path / "deploy.toml"
    path.write_text(text)
    with pytest.raises(config.ConfigError) as exc:
        config.load(path)
    assert "members.management_profile" in str(exc.value)
    path.write_text(text.replace("# management_profile =", "management_profile ="))
    assert config.load(path).members.management_profile == "management-admin"
