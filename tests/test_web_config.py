"""`serve:` in the config: strict parsing with located errors, and the secrets it points at."""

from __future__ import annotations

from pathlib import Path

import pytest

from qmon.config import load_config
from qmon.errors import ConfigError, InputError
from qmon.web.settings import load_settings
from tests.test_web_helpers import ANNA_HASH, SESSION_SECRET, serve_section, write_config


def test_a_whole_serve_section_is_read(tmp_path):
    (tmp_path / "oidc.secret").write_text("oidc-secret\n")
    path = write_config(
        tmp_path,
        serve_section("""\
  host: 0.0.0.0
  port: 8401
  public_url: https://qmon.example.com/
  session_lifetime: 8h
  session_idle: 30m
  trusted_proxies: [10.0.0.5, 10.0.1.0/24]
  login_limit: {failures: 3, within: 10m}
  oidc:
    issuer: https://login.example.com/
    client_id: qmon
    client_secret_file: oidc.secret
    allowed_domains: ["@Example.com"]
    group_claim: realm_access.roles
"""),
        language="nl",
    )
    settings = load_settings(load_config(path), {})
    assert (settings.host, settings.port) == ("0.0.0.0", 8401)
    assert settings.public_url == "https://qmon.example.com" and settings.https
    assert (settings.session_lifetime_s, settings.session_idle_s) == (8 * 3600, 1800)
    assert settings.trusted_proxies == ("10.0.0.5/32", "10.0.1.0/24")
    assert (settings.login_failures, settings.login_window_s) == (3, 600)
    assert settings.language == "nl"  # qmon's language, serve.language not set
    assert settings.session_secret.get_secret_value() == SESSION_SECRET
    assert not settings.session_secret_generated
    assert set(settings.users) == {"anna", "bob"}
    oidc = settings.oidc
    assert oidc is not None and oidc.issuer == "https://login.example.com"
    assert oidc.allowed_domains == ("example.com",) and oidc.group_claim == "realm_access.roles"
    assert oidc.client_secret.get_secret_value() == "oidc-secret"
    assert oidc.scopes == ("openid", "email", "profile") and oidc.require_verified_email
    for secret in (SESSION_SECRET, ANNA_HASH, "oidc-secret"):
        assert secret not in repr(settings)


def located(tmp_path: Path, section: str) -> list[str]:
    path = write_config(tmp_path, section)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    return [str(p).replace(str(path), "qmon.yaml") for p in raised.value.problems]


def test_every_mistake_is_reported_with_its_line(tmp_path):
    problems = located(
        tmp_path,
        """serve:
  sesion_secret_file: x
  port: 70000
  users:
    - {name: anna, password_hash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$not-a-real-hash"}
    - {name: "two words", password_hash: "plain-password"}
  trusted_proxies: [example.com]
  session_idle: 10s
  oidc:
    issuer: ftp://login.example.com
    client_id: qmon
    allowed_domains: [localhost]
""",
    )
    assert [int(p.split(":")[1]) for p in problems] == [22, 23, 25, 26, 26, 27, 28, 30, 32]
    text = "\n".join(problems)
    assert "unknown key 'sesion_secret_file' (did you mean 'session_secret_file'?)" in text
    assert "port 70000 is not between 1 and 65535" in text
    assert "'password_hash' is not an argon2 hash; make one with `qmon serve hash-password`" in text
    assert "user name 'two words' must be 1 to 80 characters without spaces" in text
    assert "'example.com' is not an IP address or network like 10.0.0.5 or 10.0.0.0/24" in text
    assert "a session time must be between 1 minute and 30 days" in text
    assert "issuer 'ftp://login.example.com' must be an https URL" in text
    assert "'localhost' is not an e-mail domain like example.com" in text
    assert "not-a-real-hash" not in text and "plain-password" not in text


def test_single_sign_on_must_say_who_may_sign_in(tmp_path):
    problems = located(
        tmp_path,
        """serve:
  oidc:
    issuer: https://login.example.com
    client_id: qmon
""",
    )
    assert problems == [
        "qmon.yaml:23: oidc needs 'allowed_domains' or 'allowed_groups' (or both): without them "
        "anyone with an account at the issuer could sign in"
    ]


def test_a_user_named_twice_is_an_error(tmp_path):
    problems = located(
        tmp_path,
        f"""serve:
  users:
    - {{name: anna, password_hash: "{ANNA_HASH}"}}
    - {{name: Anna, password_hash: "{ANNA_HASH}"}}
""",
    )
    assert problems == ["qmon.yaml:22: user 'Anna' is named twice in 'users'"]


def settings_problems(tmp_path: Path, section: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(InputError) as raised:
        load_settings(load_config(write_config(tmp_path, section)), env or {})
    return str(raised.value).replace(str(tmp_path), "TMP")


def test_secrets_are_read_from_files_beside_the_config_or_the_environment(tmp_path):
    message = settings_problems(tmp_path, serve_section().replace("session.secret", "nope"))
    assert message == (
        "qmon serve cannot start:\nTMP/qmon.yaml: serve.session_secret_file: cannot read "
        "TMP/nope: No such file or directory"
    )
    (tmp_path / "short").write_text("abc")
    message = settings_problems(tmp_path, serve_section().replace("session.secret", "short"))
    assert message.endswith(
        "serve.session_secret_file: the session secret is shorter than 32 characters; make one "
        "with `openssl rand -base64 48`"
    )
    assert "abc" not in message
    no_file = serve_section().replace("  session_secret_file: session.secret\n", "")
    path = write_config(tmp_path, no_file)
    from_env = load_settings(load_config(path), {"QMON_SESSION_SECRET": "e" * 40})
    assert from_env.session_secret.get_secret_value() == "e" * 40
    assert not from_env.session_secret_generated
    generated = load_settings(load_config(path), {})
    assert generated.session_secret_generated
    assert len(generated.session_secret.get_secret_value()) >= 32


def test_someone_must_be_able_to_sign_in(tmp_path):
    message = settings_problems(tmp_path, serve_section(users=False))
    assert message.endswith(
        "serve.users: no one can sign in: add a user (`qmon serve hash-password` makes the "
        "hash) or single sign-on (`oidc:`); see docs/serve.md"
    )


def test_single_sign_on_needs_its_client_secret(tmp_path):
    section = serve_section(
        """  oidc:
    issuer: https://login.example.com
    client_id: qmon
    allowed_groups: [qmon]
""",
        users=False,
    )
    message = settings_problems(tmp_path, section)
    assert message.endswith(
        "serve.oidc needs the client secret: name 'client_secret_file' or set "
        "QMON_OIDC_CLIENT_SECRET"
    )
    path = write_config(tmp_path, section)
    settings = load_settings(load_config(path), {"QMON_OIDC_CLIENT_SECRET": "from-env"})
    assert settings.oidc is not None
    assert settings.oidc.client_secret.get_secret_value() == "from-env"


def test_only_public_url_is_needed_by_the_rest_of_qmon(tmp_path):
    path = write_config(tmp_path, "serve:\n  public_url: https://qmon.example.com\n")
    assert load_config(path).extra["serve"].public_url == "https://qmon.example.com"
