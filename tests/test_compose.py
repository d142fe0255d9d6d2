"""Production packaging: docker-compose.yml, deploy/Caddyfile, the Dockerfile and .dockerignore.

Docker does not run on the development machines, so these files are parsed and cross-checked with
the settings (bot/config.py), the command line and each other.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import posixpath
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from bot import paths
from bot.cli import build_arg_parser, cmd_run, cmd_web
from bot.config import ENVIRONMENT, load_settings
from bot.server import webhook_path

ROOT = paths.PROJECT_ROOT
COMPOSE_FILE = ROOT / "docker-compose.yml"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"

HEALTHBOT_SERVICES = {"migrate", "bot", "web"}
ONE_SHOTS = {"migrate", "rasa-train"}
RASA_IMAGE = "rasa/rasa:3.6.21-full"
# compose stops with a message when one of these is missing (`${NAME:?message}`)
REQUIRED = {
    "HEALTHBOT_SECRET",
    "TELEGRAM_BOT_TOKEN",
    "POSTGRES_PASSWORD",
    "POSTGRES_OWNER_PASSWORD",
    "POSTGRES_APP_PASSWORD",
    "WEBHOOK_SECRET",
    "PUBLIC_HOST",
    "RASA_TOKEN",
}
SECRETS = REQUIRED - {"PUBLIC_HOST"}
# settings a service needs beyond those all three share
NEEDED_BY = {"bot": {"WEBHOOK_URL", "WEBHOOK_SECRET"}, "web": {"WEB_SECURE_COOKIES"}}
SAMPLE_ENV = {
    "HEALTHBOT_SECRET": "5e" * 32,
    "TELEGRAM_BOT_TOKEN": "123456789:AAHsample-token_for-the-tests",
    "POSTGRES_PASSWORD": "9c" * 32,
    "POSTGRES_OWNER_PASSWORD": "0d" * 32,
    "POSTGRES_APP_PASSWORD": "e1" * 32,
    "WEBHOOK_SECRET": "a7" * 32,
    "PUBLIC_HOST": "bot.example.org",
    "RASA_TOKEN": "3f" * 32,
}
# variables the other images read; the healthbot image reads bot.config.ENVIRONMENT only
OTHER_IMAGES_ENV = {
    # the two role passwords: deploy/postgres-init/10-healthbot-roles.sh reads them
    "postgres:": {
        "POSTGRES_USER",
        "POSTGRES_DB",
        "POSTGRES_PASSWORD",
        "POSTGRES_OWNER_PASSWORD",
        "POSTGRES_APP_PASSWORD",
    },
    "caddy:": {"PUBLIC_HOST"},
    "rasa/rasa:": {
        "RASA_TELEMETRY_ENABLED",
        "TF_CPP_MIN_LOG_LEVEL",
        "SQLALCHEMY_SILENCE_UBER_WARNING",
        "PYTHONWARNINGS",
        "RASA_CACHE_DIRECTORY",
        "RASA_TOKEN",  # the healthcheck sends it
    },
}


# ---- compose: loading and `${...}` interpolation ----


class MissingVariable(Exception):
    """A `${NAME:?message}` reference with NAME unset."""


_REFERENCE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Substitute like compose: `$$`, `${V}`, `${V:-default}`, `${V:?message}`, `${V:+alt}`."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op") or "", match.group("arg") or ""
        value = env.get(name)
        present = value is not None and (value != "" or not op.startswith(":"))
        if op.endswith("-"):
            return value if present and value is not None else arg
        if op.endswith("?"):
            if not present or value is None:
                raise MissingVariable(f"{name}: {arg}")
            return value
        if op.endswith("+"):
            return arg if present else ""
        return value or ""

    return _REFERENCE.sub(substitute, text)


def _interpolate_all(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: _interpolate_all(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [_interpolate_all(value, env) for value in node]
    return node


@cache
def raw_compose() -> dict[str, Any]:
    """docker-compose.yml as written (anchors and merge keys resolved, `${...}` kept)."""
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return loaded


def compose(env: Mapping[str, str] = SAMPLE_ENV) -> dict[str, Any]:
    """docker-compose.yml with every `${...}` substituted from `env`."""
    resolved: dict[str, Any] = _interpolate_all(raw_compose(), env)
    return resolved


def services(env: Mapping[str, str] = SAMPLE_ENV) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose(env)["services"]
    return found


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's `environment`, list or mapping form, as a dict of strings."""
    value = service.get("environment") or {}
    if isinstance(value, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in value)
    return {key: "" if item is None else str(item) for key, item in value.items()}


def command(service: Mapping[str, Any]) -> list[str]:
    value = service.get("command") or []
    return shlex.split(value) if isinstance(value, str) else [str(item) for item in value]


def option(args: list[str], *names: str) -> str:
    """The value of the first of `names` in an argument list (`-p 5005` or `--port=5005`)."""
    for index, arg in enumerate(args):
        if arg in names:
            return args[index + 1]
        name, equals, value = arg.partition("=")
        if equals and name in names:
            return value
    raise AssertionError(f"none of {names} in {args}")


def healthcheck_command(service: Mapping[str, Any]) -> str:
    test = (service.get("healthcheck") or {}).get("test") or []
    return test if isinstance(test, str) else " ".join(str(part) for part in test)


def one_shots() -> set[str]:
    """Services that others wait for to complete (not to be healthy)."""
    return {
        name
        for service in services().values()
        for name, dependency in (service.get("depends_on") or {}).items()
        if dependency.get("condition") == "service_completed_successfully"
    }


def parse_cli(args: list[str]) -> argparse.Namespace:
    """`healthbot ARGS` as the command line reads them (an AssertionError, not an exit)."""
    try:
        return build_arg_parser().parse_args(args)
    except SystemExit:
        raise AssertionError(f"healthbot {' '.join(args)} is not a healthbot command") from None


def bot_port() -> int:
    """The port `run --webhook` listens on in the bot service (`--port`, else PORT)."""
    bot = services()["bot"]
    args = parse_cli(command(bot))
    return int(args.port or load_settings(environ=environment(bot), env_file=None).port)


@dataclass(frozen=True)
class Mount:
    source: str
    target: str

    @property
    def named_volume(self) -> bool:
        return not self.source.startswith((".", "/", "~"))


def mounts(service: Mapping[str, Any]) -> list[Mount]:
    found = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        found.append(Mount(source, target))
    return found


def resolve_mount(service: Mapping[str, Any], path: str) -> tuple[Mount, str]:
    """The mount a container path falls in (the deepest one) and the path inside it."""
    path = posixpath.normpath(posixpath.join(service.get("working_dir", "/"), path))
    best = max(
        (m for m in mounts(service) if path == m.target or path.startswith(m.target + "/")),
        key=lambda m: len(m.target),
        default=None,
    )
    assert best is not None, f"{path} is on no volume"
    return best, posixpath.relpath(path, best.target)


# ---- the Caddyfile ----


@dataclass
class Block:
    tokens: list[str]
    children: list[Block] = field(default_factory=list)


def parse_caddyfile(text: str) -> list[Block]:
    """Directives and their `{ ... }` blocks (enough of the Caddyfile syntax for this file)."""
    root = Block([])
    stack = [root]
    for line in text.splitlines():
        tokens = shlex.split(re.sub(r"(^|\s)#.*$", "", line))
        if not tokens:
            continue
        if tokens == ["}"]:
            stack.pop()
            continue
        block = Block(tokens[:-1] if tokens[-1] == "{" else tokens)
        stack[-1].children.append(block)
        if tokens[-1] == "{":
            stack.append(block)
    assert len(stack) == 1, "unbalanced braces in the Caddyfile"
    return root.children


@dataclass(frozen=True)
class Route:
    kind: str  # "respond" or "proxy"
    status: int = 200
    upstream: str = ""
    port: int = 0
    dynamic: bool = False


@cache
def caddy_site() -> Block:
    sites = [block for block in parse_caddyfile(CADDYFILE.read_text("utf-8")) if block.tokens]
    assert len(sites) == 1, "one site block expected"
    return sites[0]


def caddy_route(path: str) -> Route:
    """Where Caddy sends a request for `path`: matched handle blocks first, the catch-all last."""
    matchers: dict[str, list[str]] = {}
    handles = []
    for block in caddy_site().children:
        head = block.tokens[0]
        if head.startswith("@"):
            assert block.tokens[1] == "path", "only path matchers are modelled here"
            matchers[head] = block.tokens[2:]
        else:
            assert head in {"encode", "header", "handle"}, f"caddy_route does not model {head}"
            if head == "handle":
                handles.append(block)

    def patterns(handle: Block) -> list[str]:
        if len(handle.tokens) == 1:
            return ["*"]
        matcher = handle.tokens[1]
        return matchers[matcher] if matcher.startswith("@") else handle.tokens[1:]

    ordered = sorted(handles, key=lambda handle: len(handle.tokens) == 1)
    for handle in ordered:
        if any(fnmatch.fnmatchcase(path.lower(), p.lower()) for p in patterns(handle)):
            return _terminal(handle)
    raise AssertionError(f"no route for {path}")


def _terminal(handle: Block) -> Route:
    first = handle.children[0]
    if first.tokens[0] == "respond":
        return Route("respond", status=int(first.tokens[-1]))
    assert first.tokens[0] == "reverse_proxy", first.tokens
    if len(first.tokens) > 1:  # static upstream: reverse_proxy host:port
        host, port = first.tokens[1].removeprefix("http://").rsplit(":", 1)
        return Route("proxy", upstream=host, port=int(port))
    for child in first.children:
        if child.tokens[:2] == ["dynamic", "a"]:
            return Route("proxy", upstream=child.tokens[2], port=int(child.tokens[3]), dynamic=True)
    raise AssertionError(f"no upstream in {first.tokens}")


# ---- the Dockerfile and .dockerignore ----


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    stage: int


@cache
def dockerfile() -> list[Instruction]:
    """Instructions with continuation lines joined; `stage` counts FROMs (0 = before the first)."""
    logical, pending = [], ""
    for line in DOCKERFILE.read_text("utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or not stripped:
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    instructions, stage = [], 0
    for text in logical:
        keyword, _, args = text.partition(" ")
        stage += keyword.upper() == "FROM"
        instructions.append(Instruction(keyword.upper(), args.strip(), stage))
    return instructions


def final_stage() -> list[Instruction]:
    last = max(i.stage for i in dockerfile())
    return [i for i in dockerfile() if i.stage == last]


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go's filepath.Match plus `**`) as a regex."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] in "*?":
            out.append("[^/]*" if pattern[i] == "*" else "[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out.append(pattern[i : end + 1])
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


@cache
def ignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """.dockerignore as (re-include?, regex), in order; the last matching rule wins."""
    rules = []
    for line in DOCKERIGNORE.read_text("utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = posixpath.normpath(line.lstrip("!").strip()).strip("/")
        rules.append((negate, _ignore_regex(pattern)))
    return rules


def docker_ignores(path: str) -> bool:
    """Whether the build context leaves out `path` (a pattern matching a parent folder counts)."""
    parts = path.split("/")
    ignored = False
    for negate, regex in ignore_rules():
        if any(regex.fullmatch("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            ignored = not negate
    return ignored


# ---- the tests: compose and settings ----


def test_the_healthbot_image_runs_migrate_bot_and_web_from_this_repository() -> None:
    built = {name: s for name, s in services().items() if "build" in s}
    assert set(built) == HEALTHBOT_SERVICES
    assert {s["build"] for s in built.values()} == {"."}
    assert len({s["image"] for s in built.values()}) == 1
    assert "version" not in raw_compose(), "the version key is obsolete"


@pytest.mark.parametrize("name", sorted(HEALTHBOT_SERVICES))
def test_healthbot_services_set_only_settings_the_code_reads(name: str) -> None:
    service = services()[name]
    env = environment(service)
    assert "env_file" not in service, "env_file would pass every variable of the file"
    assert set(env) <= set(ENVIRONMENT), set(env) - set(ENVIRONMENT)
    needed = {"HEALTHBOT_SECRET", "DATABASE_URL", "TELEGRAM_BOT_TOKEN", "NLU_BACKEND", "RASA_URL"}
    needed |= {"RASA_TOKEN"}
    needed |= {"LOG_FORMAT"} | NEEDED_BY.get(name, set())
    assert needed <= set(env), needed - set(env)


def test_other_services_set_only_what_their_images_read() -> None:
    for name, service in services().items():
        if name in HEALTHBOT_SERVICES:
            continue
        allowed = [
            v for prefix, v in OTHER_IMAGES_ENV.items() if service["image"].startswith(prefix)
        ]
        assert allowed, f"{name}: unknown image {service['image']}"
        assert set(environment(service)) <= allowed[0], name


@pytest.mark.parametrize("name", sorted(HEALTHBOT_SERVICES))
def test_the_settings_accept_the_compose_environment(name: str) -> None:
    settings = load_settings(environ=environment(services()[name]), env_file=None)
    assert settings.healthbot_secret == SAMPLE_ENV["HEALTHBOT_SECRET"]
    assert settings.telegram_bot_token == SAMPLE_ENV["TELEGRAM_BOT_TOKEN"]
    assert settings.nlu_backend == "rasa"
    assert settings.log_format == "json"
    assert settings.database_url.startswith("postgresql://")
    if name == "bot":
        url, secret = settings.require_webhook()
        assert secret == SAMPLE_ENV["WEBHOOK_SECRET"] and url.startswith("https://")
    if name == "web":
        assert settings.web_secure_cookies


def test_the_bot_and_the_console_share_secret_and_database() -> None:
    raw = raw_compose()["services"]
    for key in ("HEALTHBOT_SECRET", "DATABASE_URL", "TELEGRAM_BOT_TOKEN"):
        assert len({environment(raw[name])[key] for name in HEALTHBOT_SERVICES}) == 1, key


def test_required_variables_stop_compose_with_a_message() -> None:
    text = COMPOSE_FILE.read_text("utf-8")
    assert set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?", text)) == REQUIRED
    for name in REQUIRED:
        with pytest.raises(MissingVariable, match=name):
            compose({k: v for k, v in SAMPLE_ENV.items() if k != name})
        with pytest.raises(MissingVariable, match=name):
            compose({**SAMPLE_ENV, name: ""})


def test_no_secret_has_a_literal_value_or_a_default() -> None:
    text = COMPOSE_FILE.read_text("utf-8")
    for service in raw_compose()["services"].values():
        for key, value in environment(service).items():
            if key in SECRETS:
                assert re.fullmatch(rf"\$\{{{key}:\?[^}}]+\}}", value), f"{key}={value}"
            if key == "DATABASE_URL":
                assert re.fullmatch(
                    r"postgresql://healthbot_app:\$\{POSTGRES_APP_PASSWORD:\?[^}]+\}@\S+", value
                )
            if key == "MIGRATION_DATABASE_URL":
                assert re.fullmatch(
                    r"postgresql://healthbot_owner:\$\{POSTGRES_OWNER_PASSWORD:\?[^}]+\}@\S+",
                    value,
                )
    for name in SECRETS:
        references = re.findall(rf"\$\{{{name}([^}}]*)\}}", text)
        assert references and all(ref.startswith(":?") for ref in references), name
    assert not re.search(r"\b\d{6,}:[A-Za-z0-9_-]{30,}", text), "a Telegram token"
    assert not re.search(r"\b[0-9a-f]{32,}\b", text), "a hex secret"


def test_database_url_points_at_the_postgres_service() -> None:
    all_services = services()
    for name in HEALTHBOT_SERVICES:
        url = urlsplit(environment(all_services[name])["DATABASE_URL"])
        assert url.hostname is not None
        postgres = all_services[url.hostname]
        assert postgres["image"].startswith("postgres:16")
        pg_env = environment(postgres)
        assert (url.username, url.password) == ("healthbot_app", pg_env["POSTGRES_APP_PASSWORD"])
        assert url.path == "/" + pg_env["POSTGRES_DB"] and (url.port or 5432) == 5432
        assert url.password == SAMPLE_ENV["POSTGRES_APP_PASSWORD"]
    check = healthcheck_command(all_services["postgres"]).split()
    assert check[:2] == ["CMD", "pg_isready"]
    assert option(check, "-U", "--username") == pg_env["POSTGRES_USER"]
    assert option(check, "-d", "--dbname") == pg_env["POSTGRES_DB"]


def test_only_migrate_connects_as_the_schema_owner_and_nothing_as_the_superuser() -> None:
    all_services = services()
    pg_env = environment(all_services["postgres"])
    superuser = pg_env["POSTGRES_USER"]
    for name in HEALTHBOT_SERVICES:
        env = environment(all_services[name])
        settings = load_settings(environ=env, env_file=None)
        app, owner = urlsplit(settings.database_url), urlsplit(settings.migration_url)
        assert app.username == "healthbot_app" != superuser, name
        assert pg_env["POSTGRES_PASSWORD"] not in " ".join(env.values()), name
        if name == "migrate":
            assert (owner.username, owner.password) == (
                "healthbot_owner",
                pg_env["POSTGRES_OWNER_PASSWORD"],
            )
            assert (owner.hostname, owner.path) == (app.hostname, app.path)
        else:
            assert "MIGRATION_DATABASE_URL" not in env, f"{name} must not own the schema"
            assert pg_env["POSTGRES_OWNER_PASSWORD"] not in " ".join(env.values()), name
    assert one_shots() >= {"migrate"}
    for name in ("bot", "web"):
        depends = all_services[name]["depends_on"]["migrate"]
        assert depends["condition"] == "service_completed_successfully"


def test_postgres_makes_the_owner_and_app_roles_on_first_start() -> None:
    postgres = services()["postgres"]
    init = [m for m in mounts(postgres) if m.target == "/docker-entrypoint-initdb.d"]
    assert len(init) == 1 and not init[0].named_volume
    scripts = sorted((ROOT / init[0].source).glob("*.sh"))
    assert [s.name for s in scripts] == ["10-healthbot-roles.sh"]
    script = scripts[0].read_text("utf-8")
    # the role names the URLs use are the script's defaults
    assert "${HEALTHBOT_DB_OWNER:-healthbot_owner}" in script
    assert "${HEALTHBOT_DB_APP:-healthbot_app}" in script
    for password in ("POSTGRES_OWNER_PASSWORD", "POSTGRES_APP_PASSWORD"):
        assert f"${{{password}:?" in script and password in environment(postgres)
    assert "ALTER DEFAULT PRIVILEGES FOR ROLE" in script and "NOSUPERUSER" in script


def test_rasa_url_is_the_rasa_service_on_its_port() -> None:
    all_services = services()
    for name in HEALTHBOT_SERVICES:
        url = urlsplit(environment(all_services[name])["RASA_URL"])
        assert url.hostname is not None
        rasa = all_services[url.hostname]
        args = command(rasa)
        assert rasa["image"] == RASA_IMAGE
        assert args[:2] == ["run", "--enable-api"]
        assert option(args, "-i", "--interface") == "0.0.0.0"  # noqa: S104
        assert url.port == int(option(args, "-p", "--port"))
    assert f":{url.port}/status" in healthcheck_command(rasa)


def test_the_rasa_api_needs_the_token_the_bot_and_console_send() -> None:
    all_services = services()
    rasa = all_services["rasa"]
    token = SAMPLE_ENV["RASA_TOKEN"]
    assert option(command(rasa), "--auth-token") == token
    for name in HEALTHBOT_SERVICES:
        settings = load_settings(environ=environment(all_services[name]), env_file=None)
        assert settings.rasa_token == token, name
    assert environment(rasa)["RASA_TOKEN"] == token
    check = healthcheck_command(rasa)
    assert "os.environ['RASA_TOKEN']" in check and "'token'" in check


def test_rasa_serves_the_model_rasa_train_writes_from_the_repositorys_nlu() -> None:
    all_services = services()
    train, rasa = all_services["rasa-train"], all_services["rasa"]
    args = command(train)
    assert train["image"] == RASA_IMAGE and args[:2] == ["train", "nlu"]
    for flag, kind in (("--nlu", "dir"), ("--config", "file")):
        mount, inside = resolve_mount(train, option(args, flag))
        assert not mount.named_volume, f"{flag} must come from the repository"
        host = (ROOT / mount.source / inside).resolve()
        assert host.is_dir() if kind == "dir" else host.is_file(), host
    model = posixpath.join(option(args, "--out"), option(args, "--fixed-model-name") + ".tar.gz")
    written, written_inside = resolve_mount(train, model)
    served, served_inside = resolve_mount(rasa, option(command(rasa), "-m", "--model"))
    assert written.named_volume and (served.source, served_inside) == (
        written.source,
        written_inside,
    )


def test_caddy_sends_the_webhook_path_to_the_bot() -> None:
    all_services = services()
    bot_env = environment(all_services["bot"])
    webhook = urlsplit(bot_env["WEBHOOK_URL"])
    assert webhook.scheme == "https" and webhook.hostname == SAMPLE_ENV["PUBLIC_HOST"]
    route = caddy_route(webhook_path(bot_env["WEBHOOK_URL"]))
    assert (route.kind, route.upstream) == ("proxy", "bot")
    assert route.port == bot_port()
    assert caddy_site().tokens == ["{$PUBLIC_HOST}"]
    assert environment(all_services["caddy"])["PUBLIC_HOST"] == SAMPLE_ENV["PUBLIC_HOST"]


def test_caddy_sends_the_rest_to_the_web_console_and_hides_metrics_and_readiness() -> None:
    web_port = int(option(command(services()["web"]), "--port"))
    for path in ("/", "/login", "/chat", "/healthz"):
        assert caddy_route(path) == Route("proxy", upstream="web", port=web_port, dynamic=True), (
            path
        )
    for path in ("/metrics", "/metrics/", "/readyz", "/Metrics"):
        assert caddy_route(path) == Route("respond", status=404), path


def test_caddy_finds_every_replica_so_the_bot_can_scale() -> None:
    assert caddy_route("/telegram/webhook").dynamic
    for name in ("bot", "web"):
        service = services()[name]
        assert "container_name" not in service and "ports" not in service, name


def test_caddy_mounts_the_caddyfile_and_keeps_its_certificates() -> None:
    caddy = services()["caddy"]
    assert caddy["image"] == "caddy:2-alpine"
    assert Mount("./deploy/Caddyfile", "/etc/caddy/Caddyfile") in mounts(caddy)
    data = next(m for m in mounts(caddy) if m.target == "/data")
    assert data.named_volume and data.source in compose()["volumes"]
    assert {"80:80", "443:443"} <= set(caddy["ports"])
    placeholders = set(re.findall(r"\{\$([A-Z_]+)", CADDYFILE.read_text("utf-8")))
    assert placeholders and placeholders <= set(environment(caddy))


def test_long_running_services_have_a_healthcheck_and_restart() -> None:
    assert one_shots() == ONE_SHOTS
    for name, service in services().items():
        if name in ONE_SHOTS:
            assert service.get("restart", "no") == "no", f"{name} would run again and again"
            continue
        assert service.get("restart") in ("unless-stopped", "always"), name
        check = service.get("healthcheck") or {}
        assert not check.get("disable") and healthcheck_command(service), name
        assert not healthcheck_command(service).startswith("NONE"), name


def test_healthchecks_ask_the_port_each_service_listens_on() -> None:
    all_services = services()
    web_port = int(option(command(all_services["web"]), "--port"))
    assert f"127.0.0.1:{bot_port()}/healthz" in healthcheck_command(all_services["bot"])
    assert f"127.0.0.1:{web_port}/healthz" in healthcheck_command(all_services["web"])


def test_depends_on_names_services_with_the_right_condition() -> None:
    all_services = services()
    for name, service in all_services.items():
        dependencies = service.get("depends_on") or {}
        assert isinstance(dependencies, dict), f"{name}: use the long form with a condition"
        for dependency, spec in dependencies.items():
            assert dependency in all_services, f"{name} depends on unknown {dependency}"
            expected = (
                "service_completed_successfully" if dependency in ONE_SHOTS else "service_healthy"
            )
            assert spec.get("condition") == expected, f"{name} -> {dependency}"
            if expected == "service_healthy":
                assert healthcheck_command(all_services[dependency]), dependency
    assert set(all_services["bot"]["depends_on"]) >= {"migrate", "rasa"}
    assert set(all_services["rasa"]["depends_on"]) == {"rasa-train"}

    def reaches(name: str, seen: frozenset[str] = frozenset()) -> set[str]:
        assert name not in seen, f"dependency cycle through {name}"
        found = set(all_services[name].get("depends_on") or {})
        for dependency in list(found):
            found |= reaches(dependency, seen | {name})
        return found

    for name in HEALTHBOT_SERVICES:
        assert "postgres" in reaches(name), name


def test_the_compose_commands_are_healthbot_commands() -> None:
    bot = parse_cli(command(services()["bot"]))
    assert bot.handler is cmd_run and bot.webhook
    web = parse_cli(command(services()["web"]))
    assert web.handler is cmd_web and web.host == "0.0.0.0"  # noqa: S104
    migrate = parse_cli(command(services()["migrate"]))
    assert (migrate.command, migrate.action) == ("db", "upgrade")


def test_postgres_data_is_on_a_named_volume_declared_at_top_level() -> None:
    document = compose()
    declared = set(document.get("volumes") or {})
    data = [m for m in mounts(services()["postgres"]) if m.target == "/var/lib/postgresql/data"]
    assert len(data) == 1 and data[0].named_volume and data[0].source in declared
    for name, service in services().items():
        for mount in mounts(service):
            if mount.named_volume:
                assert mount.source in declared, f"{name}: {mount.source}"
            else:
                assert (ROOT / mount.source).exists(), f"{name}: {mount.source}"


# ---- the tests: Dockerfile and .dockerignore ----


def test_the_dockerfile_builds_in_stages_and_runs_as_a_user() -> None:
    instructions = dockerfile()
    froms = [i.args for i in instructions if i.keyword == "FROM"]
    assert len(froms) >= 2
    defaults = dict(
        i.args.split("=", 1) for i in instructions if i.keyword == "ARG" and "=" in i.args
    )
    base = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], froms[-1].split()[0])
    assert base.startswith("python:3.11-slim"), base
    last = final_stage()
    users = [i.args for i in last if i.keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(i.keyword == "COPY" and "--from=" in i.args for i in last)
    keywords = [i.keyword for i in instructions]
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    entrypoint = [json.loads(i.args) for i in instructions if i.keyword == "ENTRYPOINT"]
    assert entrypoint == [["healthbot"]]
    assert [json.loads(i.args) for i in instructions if i.keyword == "CMD"] == [
        ["run", "--webhook"]
    ]
    exposed = {p for i in instructions if i.keyword == "EXPOSE" for p in i.args.split()}
    assert {"8080", "8000"} <= exposed


def test_the_final_image_has_a_python_healthcheck_and_no_compiler_or_build_secret() -> None:
    last = final_stage()
    checks = [i.args for i in last if i.keyword == "HEALTHCHECK"]
    assert len(checks) == 1 and "/healthz" in checks[0] and "python" in checks[0]
    assert "curl" not in checks[0]
    runs = " ".join(i.args for i in last if i.keyword == "RUN")
    assert not re.search(r"\b(gcc|g\+\+|build-essential|clang)\b", runs)
    for i in dockerfile():
        if i.keyword in ("ENV", "ARG"):
            assert "HEALTHBOT_SECRET" not in i.args, "a build-time secret would stay in the image"
    assert "healthbot nlu train" in runs


def test_every_path_the_dockerfile_copies_exists_and_reaches_the_build() -> None:
    copies = [i.args.split() for i in dockerfile() if i.keyword == "COPY"]
    local = [
        [a for a in args if not a.startswith("--")] for args in copies if "--from" not in args[0]
    ]
    sources = [source for args in local for source in args[:-1]]
    assert {"bot", "nlu", "handlers", "content", "pyproject.toml"} <= set(sources)
    for source in sources:
        path = ROOT / source
        assert path.exists(), source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            relative = file.relative_to(ROOT).as_posix()
            if "__pycache__" in relative.split("/"):
                continue
            assert not docker_ignores(relative), f"{relative} is left out of the build context"


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    for path in (".venv/bin/python", ".venv-rasa", ".git/HEAD", "data/healthbot.db", ".env"):
        assert docker_ignores(path), path
    for path in ("tests/test_compose.py", "docs/deploy.md", "bot/__pycache__/app.cpython-311.pyc"):
        assert docker_ignores(path), path
    for path in ("nlu/data/hiv.yml", "content/helplines.yml", "README.md", "pyproject.toml"):
        assert not docker_ignores(path), path


# ---- the tests: the deployment guide ----


def test_the_deploy_guide_sample_env_sets_every_variable_compose_reads() -> None:
    doc = DEPLOY_DOC.read_text("utf-8")
    blocks = re.findall(r"```[a-z]*\n(.*?)```", doc, flags=re.DOTALL)
    sample = next(block for block in blocks if "HEALTHBOT_SECRET=" in block)
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", sample, flags=re.MULTILINE))
    read = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_FILE.read_text("utf-8")))
    assert read <= documented, read - documented
    required_lines = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", sample, flags=re.MULTILINE))
    assert required_lines >= REQUIRED, REQUIRED - required_lines
    assert "docker compose up -d" in doc and "openssl rand -hex 32" in doc


def test_the_deploy_guide_runs_real_commands_on_real_services() -> None:
    doc = DEPLOY_DOC.read_text("utf-8")
    all_services = services()
    ran = []
    for verb, line in re.findall(r"docker compose (run|exec) ([^\n|>\\]+)", doc):
        words = [w for w in shlex.split(line) if w not in ("--rm", "-T")]
        service, args = words[0], words[1:]
        assert service in all_services, line
        if verb == "run":  # the words go to the image's entrypoint, `healthbot`
            assert service in HEALTHBOT_SERVICES, line
            ran.append(parse_cli(args))
    assert {(a.command, getattr(a, "users_command", None)) for a in ran} >= {("users", "add")}
    assert "purge" in {a.command for a in ran}
    for name in re.findall(r"--scale (\w[\w-]*)=", doc):
        assert name in all_services, name
    postgres = environment(all_services["postgres"])
    for user, database in re.findall(r"pg_(?:dump|restore) -U (\S+) -d (\S+)", doc):
        assert (user, database) == (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"])


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A:-x}", {}, "x"),
        ("${A:-x}", {"A": ""}, "x"),
        ("${A-x}", {"A": ""}, ""),
        ("${A:-x}", {"A": "y"}, "y"),
        ("a$${A}b", {"A": "y"}, "a${A}b"),
        ("${A:+on}", {"A": "y"}, "on"),
        ("pre-${A}-post", {"A": "y"}, "pre-y-post"),
    ],
)
def test_interpolation_follows_compose(text: str, env: dict[str, str], expected: str) -> None:
    # the checks above are only as good as this model of compose's `${...}`
    assert interpolate(text, env) == expected


def test_interpolation_stops_on_a_missing_required_variable() -> None:
    with pytest.raises(MissingVariable, match="A: say so"):
        interpolate("${A:?say so}", {"A": ""})
    assert interpolate("${A?say so}", {"A": ""}) == ""
