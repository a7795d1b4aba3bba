"""Loading the schema and policy files: broken files stop start-up with a message naming the file and line."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from governance import policyfiles
from governance.access.policy import PolicyEngine, PolicyFileError
from governance.settings import PROJECT_ROOT

POLICIES = PROJECT_ROOT / "policies"


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    target.mkdir()
    shutil.copy(POLICIES / "schema.cedarschema", target / "schema.cedarschema")
    shutil.copytree(POLICIES / "access", target / "access")
    return target


def add_file(policy_dir: Path, name: str, text: str) -> Path:
    path = policy_dir / "access" / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_policies_load_and_every_rule_is_named_and_located() -> None:
    engine = PolicyEngine.from_directory(POLICIES)
    assert len(engine.version) == 16
    assert len(engine.policy_ids) == len(set(engine.policy_ids)) >= 20
    for policy_id in engine.policy_ids:
        path, line = engine.source_of(policy_id)
        assert f'@id("{policy_id}")' in Path(path).read_text().splitlines()[line - 1]


def test_every_rule_has_a_comment_above_it() -> None:
    for path in sorted((POLICIES / "access").glob("*.cedar")):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if line.startswith("@id("):
                assert lines[number - 1].startswith("//"), f"{path.name}:{number + 1} has no explanation"


def test_syntax_error_names_file_and_line(policy_dir: Path) -> None:
    add_file(
        policy_dir,
        "50_broken.cedar",
        '// a comment\n\n@id("broken")\npermit (principal, action, resource)\nwhen { resource.purpose == };\n',
    )
    with pytest.raises(PolicyFileError) as caught:
        PolicyEngine.from_directory(policy_dir)
    assert caught.value.path.name == "50_broken.cedar"
    assert caught.value.line == 5
    assert "50_broken.cedar:5" in str(caught.value)
    assert isinstance(caught.value, policyfiles.PolicyFileError)


def test_type_error_against_the_schema_names_the_rule_and_its_line(policy_dir: Path) -> None:
    add_file(
        policy_dir,
        "50_typo.cedar",
        '\n\n// explained\n@id("typo")\npermit (principal is Staff, action, resource)\nwhen { principal.mfaa };\n',
    )
    with pytest.raises(PolicyFileError) as caught:
        PolicyEngine.from_directory(policy_dir)
    assert (caught.value.path.name, caught.value.line) == ("50_typo.cedar", 4)
    assert "typo" in str(caught.value)
    assert "mfaa" in str(caught.value)


def test_unknown_action_in_a_policy_is_rejected(policy_dir: Path) -> None:
    add_file(policy_dir, "50_x.cedar", '@id("x")\npermit (principal, action == Action::"profile.eat", resource);\n')
    with pytest.raises(PolicyFileError, match=r"50_x\.cedar:1"):
        PolicyEngine.from_directory(policy_dir)


def test_rule_without_a_name_is_rejected(policy_dir: Path) -> None:
    add_file(
        policy_dir,
        "50_anon.cedar",
        '@id("named")\nforbid (principal, action, resource) when { false };\n\npermit (principal, action, resource);\n',
    )
    with pytest.raises(PolicyFileError) as caught:
        PolicyEngine.from_directory(policy_dir)
    assert caught.value.line == 4
    assert "@id" in str(caught.value)


def test_duplicate_rule_name_is_rejected(policy_dir: Path) -> None:
    add_file(policy_dir, "50_dup.cedar", '\n@id("internal-service")\nforbid (principal, action, resource);\n')
    with pytest.raises(PolicyFileError, match=r"50_dup\.cedar:2: .*already used at .*40_internal\.cedar:8"):
        PolicyEngine.from_directory(policy_dir)


def test_schema_syntax_error_names_the_line(policy_dir: Path) -> None:
    schema = policy_dir / "schema.cedarschema"
    lines = schema.read_text().splitlines()
    lines.insert(3, "entity Broken { name: };")
    schema.write_text("\n".join(lines))
    with pytest.raises(PolicyFileError) as caught:
        PolicyEngine.from_directory(policy_dir)
    assert (caught.value.path.name, caught.value.line) == ("schema.cedarschema", 4)


def test_schema_unknown_type_names_the_line(policy_dir: Path) -> None:
    schema = policy_dir / "schema.cedarschema"
    schema.write_text(schema.read_text() + "\n// trailing\nentity Broken { name: Strng };\n")
    with pytest.raises(PolicyFileError) as caught:
        PolicyEngine.from_directory(policy_dir)
    assert caught.value.line == len(schema.read_text().splitlines())
    assert "Strng" in str(caught.value)


def test_missing_schema_or_policies(tmp_path: Path, policy_dir: Path) -> None:
    with pytest.raises(PolicyFileError, match="cannot read"):
        PolicyEngine.from_directory(tmp_path / "nowhere")
    shutil.rmtree(policy_dir / "access")
    with pytest.raises(PolicyFileError, match="no policy files"):
        PolicyEngine.from_directory(policy_dir)


def test_version_changes_with_content_not_with_location(policy_dir: Path) -> None:
    shipped = PolicyEngine.from_directory(POLICIES).version
    assert PolicyEngine.from_directory(policy_dir).version == shipped
    add_file(
        policy_dir,
        "50_more.cedar",
        '// extra\n@id("extra")\nforbid (principal, action, resource) when { false };\n',
    )
    assert PolicyEngine.from_directory(policy_dir).version != shipped


def test_a_rule_naming_one_item_switches_off_id_free_caching(policy_dir: Path) -> None:
    from governance.access.principals import Principal, Resource

    shipped = PolicyEngine.from_directory(POLICIES)
    assert (shipped.ids_matter, shipped.relational) == (False, True)
    text = '// this one dataset is never downloaded\n@id("frozen")\n'
    text += 'forbid (principal, action, resource == Dataset::"frozen");\n'
    add_file(policy_dir, "50_frozen.cedar", text)
    engine = PolicyEngine.from_directory(policy_dir)
    assert (engine.ids_matter, engine.relational) == (True, False)
    client = Principal(kind="client", id="c", scopes=frozenset({"datasets:request"}), purposes=frozenset({"recs"}))
    ok = Resource(type="Dataset", id="other", purpose="recs", owner_client_id="c")
    frozen = Resource(type="Dataset", id="frozen", purpose="recs", owner_client_id="c")
    assert engine.is_allowed(client, "dataset.download", ok)
    assert not engine.is_allowed(client, "dataset.download", frozen)


@pytest.mark.parametrize("name", ["10_staff.cedar", "90_guardrails.cedar"])
def test_a_broken_line_anywhere_is_reported_at_that_line(policy_dir: Path, name: str) -> None:
    path = policy_dir / "access" / name
    original = path.read_text().splitlines()
    for index in range(0, len(original), 5):
        broken = [*original[:index], "%% not cedar %%", *original[index:]]
        path.write_text("\n".join(broken))
        with pytest.raises(PolicyFileError) as caught:
            PolicyEngine.from_directory(policy_dir)
        assert (caught.value.path.name, caught.value.line) == (name, index + 1)


def test_a_broken_schema_line_anywhere_is_reported_at_that_line(policy_dir: Path) -> None:
    path = policy_dir / "schema.cedarschema"
    original = path.read_text().splitlines()
    for index in range(0, len(original), 9):
        broken = [*original[:index], "%% not a declaration %%", *original[index:]]
        path.write_text("\n".join(broken))
        with pytest.raises(PolicyFileError) as caught:
            PolicyEngine.from_directory(policy_dir)
        assert (caught.value.path.name, caught.value.line) == ("schema.cedarschema", index + 1)


def test_a_rule_comparing_an_owner_with_a_value_keeps_owners_in_the_cache_key(policy_dir: Path) -> None:
    from governance.access.principals import Principal, Resource

    text = '// one person\'s data is under legal hold\n@id("legal-hold")\n'
    text += "forbid (principal, action, resource) when { resource has owner_subject && "
    text += 'resource.owner_subject == "00000000-0000-4000-8000-000000000009" };\n'
    add_file(policy_dir, "50_hold.cedar", text)
    engine = PolicyEngine.from_directory(policy_dir)
    assert engine.relational is False
    held = uuid.UUID("00000000-0000-4000-8000-000000000009")
    dpo = Principal(kind="staff", id="d", roles=frozenset({"dpo"}), mfa=True)
    assert engine.is_allowed(dpo, "profile.read_clear", Resource.subject(uuid.uuid4()))
    assert not engine.is_allowed(dpo, "profile.read_clear", Resource.subject(held))
