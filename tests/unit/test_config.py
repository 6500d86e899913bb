from pathlib import Path

import pytest
from dotenv import dotenv_values

from bot.config import DEFAULT_CLASSES, PLACEHOLDERS, ConfigError, load_settings
from tests.support.paths import REPO

EXAMPLE = REPO / ".env.example"


def test_defaults_use_the_embedded_api():
    settings = load_settings({}, dotenv_path=None)
    assert settings.uses_embedded_api
    assert settings.detect_classes == DEFAULT_CLASSES
    assert settings.detect_verify == "NEVER"
    assert settings.detect_timeout == 60.0
    assert settings.detect_detail == "thorough"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert not settings.socket_mode
    assert (settings.detect_user_in_flight, settings.detect_team_in_flight) == (30, 40)
    assert (settings.detect_user_rate, settings.detect_team_rate) == ("120/minute", "300/minute")


def test_values_are_parsed():
    settings = load_settings(
        {
            "DETECT_CLASSES": " Person, coffee cup ,person",
            "DETECT_VERIFY": "always",
            "DETECT_DETAIL": "Fast",
            "ALLOWED_CHANNELS": "C1, C2",
            "AUTO_DETECT": "false",
            "SLACK_API_URL": "http://127.0.0.1:9/api",
            "SLACK_APP_TOKEN": "xapp-1-fake",
            "DETECT_TEAM_IN_FLIGHT": "100",
            "DETECT_USER_RATE": "10 per 5 minutes",
        },
        dotenv_path=None,
    )
    assert settings.detect_team_in_flight == 100
    assert settings.detect_user_rate == "10 per 5 minutes"
    assert settings.detect_classes == ("person", "coffee cup")
    assert settings.detect_verify == "ALWAYS"
    assert settings.detect_detail == "fast"
    assert settings.allowed_channels == frozenset({"C1", "C2"})
    assert settings.auto_detect is False
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert settings.socket_mode


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DETECT_TIMEOUT", "soon"),
        ("DETECT_TIMEOUT", "0"),
        ("DETECT_WORKERS", "-2"),
        ("DETECT_VERIFY", "SOMETIMES"),
        ("DETECT_DETAIL", "sharp"),
        ("DETECT_CLASSES", ", ,"),
        ("PORT", "70000"),
        ("II_API_URL", "ftp://example.com"),
        ("AUTO_DETECT", "perhaps"),
        ("LOG_LEVEL", "LOUD"),
        ("DETECT_CLASSES", "all, cat"),
        ("LOCAL_API_ALLOW_PRIVATE_HOSTS", "images.intranet, not a host"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("WORKER_DEAD_AFTER", "0"),
        ("REDIS_TLS_VERIFY", "perhaps"),
        ("DETECT_USER_IN_FLIGHT", "0"),
        ("DETECT_TEAM_RATE", "300"),
        ("DETECT_USER_RATE", "0/minute"),
        ("DETECT_USER_RATE", "5/fortnight"),
    ],
)
def test_a_bad_value_is_named_in_one_line(name, value):
    with pytest.raises(ConfigError) as error:
        load_settings({name: value}, dotenv_path=None)
    message = str(error.value)
    assert message.startswith(f"{name}:")
    assert "\n" not in message


def test_a_token_in_the_wrong_variable_is_refused_without_echoing_it():
    secret = "xapp-1-A111-222-deadbeefdeadbeef"
    with pytest.raises(ConfigError) as error:
        load_settings({"SLACK_BOT_TOKEN": secret}, dotenv_path=None)
    assert "SLACK_BOT_TOKEN" in str(error.value)
    assert secret not in str(error.value)


def test_all_classes_and_private_hosts_for_the_embedded_api():
    settings = load_settings(
        {"DETECT_CLASSES": "All", "LOCAL_API_ALLOW_PRIVATE_HOSTS": "Images.Intranet., 10.0.0.7"},
        dotenv_path=None,
    )
    assert settings.detect_classes == ("all",)
    assert settings.local_api_allow_private_hosts == frozenset({"images.intranet", "10.0.0.7"})


def test_all_classes_with_a_hosted_account_is_an_error_saying_why():
    with pytest.raises(ConfigError) as error:
        load_settings(
            {"DETECT_CLASSES": "all", "II_CLIENT_ID": "abc", "II_CLIENT_SECRET": "def"},
            dotenv_path=None,
        )
    assert str(error.value).startswith("DETECT_CLASSES: `all` means every class of the embedded")


def test_a_redis_url_with_a_bad_scheme_is_named_without_its_password():
    with pytest.raises(ConfigError) as error:
        load_settings({"REDIS_URL": "http://:hunter2-secret@redis.example:6379"}, dotenv_path=None)
    assert str(error.value).startswith("REDIS_URL: must be a redis:// or rediss:// URL")
    assert "hunter2" not in str(error.value)


MANY = {"SLACK_CLIENT_ID": "1111.2222", "SLACK_CLIENT_SECRET": "not-a-real-secret"}


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u:p@db.example:5432/bot", "postgresql+psycopg://u:p@db.example:5432/bot"),
        ("postgresql://u:p@db.example/bot", "postgresql+psycopg://u:p@db.example/bot"),
        ("sqlite:///bot.db", "sqlite:///bot.db"),
    ],
)
def test_database_urls_as_paas_add_ons_give_them(given: str, used: str):
    settings = load_settings({**MANY, "DATABASE_URL": given}, dotenv_path=None)
    assert settings.many_workspaces and settings.database_url == used
    assert "not-a-real-secret" not in repr(settings) and "u:p@" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        (MANY, "DATABASE_URL is not set: with SLACK_CLIENT_ID the installations are kept"),
        (
            {**MANY, "DATABASE_URL": "mysql://u:secret-pw@db/bot"},
            "DATABASE_URL: must be a postgres://",
        ),
        (
            {**MANY, "DATABASE_URL": "sqlite:///x.db", "SLACK_BOT_TOKEN": "xoxb-1"},
            "SLACK_BOT_TOKEN: set it for one",
        ),
        (
            {"SLACK_CLIENT_ID": "1111.2222"},
            "SLACK_CLIENT_SECRET: SLACK_CLIENT_ID and SLACK_CLIENT_SECRET",
        ),
        (
            {"SLACK_TOKEN_ROTATION": "true"},
            "SLACK_TOKEN_ROTATION: tokens that rotate come from installs",
        ),
    ],
)
def test_many_workspaces_need_a_database_and_only_their_own_settings(
    env: dict[str, str], problem: str
):
    with pytest.raises(ConfigError) as error:
        load_settings(env, dotenv_path=None)
    assert str(error.value).startswith(problem)
    assert "secret-pw" not in str(error.value)


def test_half_an_api_account_is_an_error():
    with pytest.raises(ConfigError, match="II_CLIENT_SECRET"):
        load_settings({"II_CLIENT_ID": "abc"}, dotenv_path=None)


def test_secrets_stay_out_of_the_repr():
    settings = load_settings(
        {
            "II_CLIENT_ID": "id",
            "II_CLIENT_SECRET": "api-secret-value",
            "SLACK_BOT_TOKEN": "xoxb-fake-bot-token",
            "SLACK_SIGNING_SECRET": "signing-secret-value",
        },
        dotenv_path=None,
    )
    text = repr(settings)
    for secret in ("api-secret-value", "xoxb-fake-bot-token", "signing-secret-value"):
        assert secret not in text


def test_dotenv_fills_in_and_the_environment_wins(tmp_path: Path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("DETECT_CLASSES=dog\nDETECT_TIMEOUT=5\n")
    settings = load_settings({"DETECT_TIMEOUT": "7"}, dotenv_path=str(dotenv))
    assert settings.detect_classes == ("dog",)
    assert settings.detect_timeout == 7.0


# -- mistakes a newcomer makes ---------------------------------------------------------------------


def test_the_placeholders_of_env_example_count_as_not_set_and_are_remembered():
    example = dotenv_values(EXAMPLE)
    left = {name: example[name] for name in PLACEHOLDERS}
    assert left == PLACEHOLDERS  # .env.example and the code agree on what a placeholder is

    settings = load_settings({str(k): str(v) for k, v in example.items() if v}, dotenv_path=None)

    assert settings.placeholders == frozenset({"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"})
    assert settings.slack_bot_token is None and settings.slack_signing_secret is None


def test_a_placeholder_bot_token_does_not_stand_in_the_way_of_many_workspaces(tmp_path: Path):
    env = {
        **MANY,
        "SLACK_BOT_TOKEN": PLACEHOLDERS["SLACK_BOT_TOKEN"],
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
    }
    settings = load_settings(env, dotenv_path=None)
    assert settings.many_workspaces and settings.placeholders == {"SLACK_BOT_TOKEN"}


@pytest.mark.parametrize(
    ("classes", "problem"),
    [
        ("unicorn", "DETECT_CLASSES: unicorn is not a class the embedded detector knows ("),
        (
            "cat, unicorn, pegasus",
            "DETECT_CLASSES: unicorn, pegasus are not classes the embedded detector knows (",
        ),
    ],
)
def test_classes_the_embedded_detector_cannot_see_are_named(classes: str, problem: str):
    with pytest.raises(ConfigError) as error:
        load_settings({"DETECT_CLASSES": classes}, dotenv_path=None)
    assert str(error.value).startswith(problem)


def test_the_words_the_detector_knows_and_a_hosted_accounts_own_classes_are_taken():
    known = load_settings({"DETECT_CLASSES": "People, kittens, coffee cup"}, dotenv_path=None)
    assert known.detect_classes == ("people", "kittens", "coffee cup")

    hosted = {"II_CLIENT_ID": "abc", "II_CLIENT_SECRET": "def", "DETECT_CLASSES": "unicorn"}
    assert load_settings(hosted, dotenv_path=None).detect_classes == ("unicorn",)


def test_a_sqlite_file_in_a_folder_that_does_not_exist_is_named(tmp_path: Path):
    missing = tmp_path / "var" / "lib" / "bot"
    with pytest.raises(ConfigError) as error:
        load_settings({**MANY, "DATABASE_URL": f"sqlite:///{missing}/bot.db"}, dotenv_path=None)
    assert str(error.value).startswith(f"DATABASE_URL: the folder {missing} does not exist; ")

    missing.mkdir(parents=True)
    settings = load_settings(
        {**MANY, "DATABASE_URL": f"sqlite:///{missing}/bot.db"}, dotenv_path=None
    )
    assert settings.database_url == f"sqlite:///{missing}/bot.db"


@pytest.mark.parametrize("paas", ["DYNO", "RENDER"])
def test_a_sqlite_file_on_a_paas_is_refused_saying_why_and_what_instead(tmp_path: Path, paas: str):
    env = {**MANY, "DATABASE_URL": f"sqlite:///{tmp_path}/bot.db", paas: "web.1"}
    with pytest.raises(ConfigError) as error:
        load_settings(env, dotenv_path=None)
    message = str(error.value)
    assert message.startswith("DATABASE_URL: a SQLite file on a PaaS is lost at every deploy")
    assert "postgres://" in message and "\n" not in message

    postgres = {**env, "DATABASE_URL": "postgres://u:p@db.example:5432/bot"}
    assert load_settings(postgres, dotenv_path=None).database_url


@pytest.mark.parametrize(
    ("url", "used"),
    [
        ("rediss://:pw@kvs.example:6380", "rediss://:pw@kvs.example:6380?ssl_cert_reqs=none"),
        (
            "rediss://:pw@kvs.example:6380/0?ssl_cert_reqs=required",
            "rediss://:pw@kvs.example:6380/0?ssl_cert_reqs=required",
        ),
        ("redis://red-abc:6379", "redis://red-abc:6379"),  # nothing to verify
    ],
)
def test_redis_tls_verify_false_leaves_the_certificate_of_a_rediss_url_unchecked(
    url: str, used: str
):
    settings = load_settings({"REDIS_URL": url, "REDIS_TLS_VERIFY": "false"}, dotenv_path=None)
    assert settings.redis_url == used
    assert load_settings({"REDIS_URL": url}, dotenv_path=None).redis_url == url
