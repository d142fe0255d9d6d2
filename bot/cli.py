"""The `healthbot` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bot import paths
from bot.config import ConfigError, Settings, load_rasa_token, load_settings
from bot.content.store import ContentError
from bot.logs import configure_logging

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger("healthbot")
T = TypeVar("T")


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """Run the Telegram bot: polling, or with --webhook an ASGI server Telegram posts to."""
    if args.webhook:
        return _run_webhook(settings, args)
    log.info("starting the Telegram bot (polling) at %s", _safe_base(settings))
    asyncio.run(_poll(settings))
    return 0


async def _poll(settings: Settings) -> None:
    """Durable polling (bot.polling): every update kept before it is confirmed to Telegram."""
    from bot.app import build_application
    from bot.polling import run_polling
    from bot.runtime import prepare, settle_memory
    from bot.updates import UpdateLedger
    from bot.web import outbox

    runtime = await prepare(settings)
    try:
        app = build_application(
            settings,
            dialogue=runtime.dialogue,
            outbox=outbox.writer(runtime.sessions, settings.healthbot_secret),
            external_updates=True,
        )
        settle_memory()
        await run_polling(app, UpdateLedger(runtime.sessions, secret=settings.healthbot_secret))
    finally:
        await runtime.close()


def _run_webhook(settings: Settings, args: argparse.Namespace) -> int:
    """Serve the webhook, /healthz, /readyz and /metrics with uvicorn."""
    import uvicorn

    from bot.server import BotServer, webhook_path

    server = BotServer(settings)  # checks WEBHOOK_URL and WEBHOOK_SECRET first
    host = args.host or settings.host
    port = args.port or settings.port
    path = webhook_path(settings.webhook_url or "")
    log.info("starting the Telegram bot (webhook) on %s:%d at %s", host, port, path)
    uvicorn.run(
        server.app(),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # access lines carry client addresses
        log_config=None,  # our handler: JSON in production, the token filter
        timeout_graceful_shutdown=10,
    )
    return 0


def cmd_start(settings: Settings, args: argparse.Namespace) -> int:
    """Telegram when a token is set, else the terminal chat."""
    if settings.telegram_bot_token:
        args.webhook = False
        return cmd_run(settings, args)
    print("TELEGRAM_BOT_TOKEN is not set: starting the terminal chat instead.", file=sys.stderr)
    return cmd_chat(settings, args)


def cmd_chat(settings: Settings, _args: argparse.Namespace) -> int:
    """Chat with the engine in this terminal."""
    from bot.chat import chat
    from bot.runtime import prepare

    def read() -> str | None:
        line = sys.stdin.readline()
        return line.rstrip("\n") if line else None

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    async def main() -> None:
        runtime = await prepare(settings)
        try:
            await chat(runtime.dialogue, settings.healthbot_secret, read, write)
        finally:
            await runtime.close()

    asyncio.run(main())
    return 0


def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    """Upgrade, downgrade or show the schema revision, as the owner (MIGRATION_DATABASE_URL)."""
    from bot.db import migrate

    url = settings.migration_url
    if args.action == "upgrade":
        asyncio.run(migrate.upgrade(url, args.revision or "head"))
    elif args.action == "downgrade":
        asyncio.run(migrate.downgrade(url, args.revision or "base"))
    print(asyncio.run(migrate.current_revision(url)) or "(empty)")
    return 0


def cmd_nlu_train(settings: Settings, args: argparse.Namespace) -> int:
    """Train the embedded model and the crisis classifier (reused while their data is unchanged)."""
    from nlu import crisis_model
    from nlu.embedded import train_or_load

    if args.backend == "rasa":
        from nlu import rasa_tools

        try:
            path, trained = rasa_tools.train(force=args.force)
        except rasa_tools.RasaNotInstalled as exc:
            raise ConfigError(f"{exc}.") from exc
        print(f"rasa model {'trained' if trained else 'up to date, reused'}: {path}")
        return 0
    model, trained = train_or_load(
        paths.NLU_DATA_DIR, paths.EMBEDDED_MODEL, paths.NLU_CONFIG, force=args.force
    )
    state = "trained" if trained else "up to date, reused"
    print(f"embedded model {state}: {len(model.intents)} intents, {paths.EMBEDDED_MODEL}")
    crisis, trained = crisis_model.train_or_load(
        paths.NLU_DATA_DIR,
        paths.CRISIS_TUNING_DIR,
        paths.SAFETY_RULES,
        paths.CRISIS_MODEL,
        force=args.force,
    )
    state = "trained" if trained else "up to date, reused"
    print(f"crisis classifier {state}: {len(crisis.intents)} labels, {paths.CRISIS_MODEL}")
    return 0


def cmd_nlu_evaluate(settings: Settings, args: argparse.Namespace) -> int:
    """Score a backend on the held-out set (and the embedded one by cross-validation)."""
    from bot.runtime import build_parser
    from nlu import evaluate
    from nlu.rasa import RasaParser

    examples = evaluate.load_labelled(Path(args.data))
    evaluations = []
    if args.backend in ("embedded", "both"):
        embedded = build_parser(settings.with_backend("embedded"))
        evaluations.append(asyncio.run(evaluate.evaluate_parser("embedded", embedded, examples)))
    if args.backend in ("rasa", "both"):
        rasa = RasaParser(settings.rasa_url, token=settings.rasa_token, timeout=10.0)

        async def run_rasa() -> evaluate.Evaluation:
            try:
                return await evaluate.evaluate_parser("rasa (HTTP)", rasa, examples)
            finally:
                await rasa.close()

        evaluations.append(asyncio.run(run_rasa()))
    if args.cv:
        evaluations.append(evaluate.cross_validate(paths.NLU_DATA_DIR))
    crisis_section = ""
    if args.crisis:
        crisis_section = _evaluate_crisis(settings)
    for evaluation in evaluations:
        print(evaluate.summary(evaluation))
    if args.report:
        body = evaluate.report(evaluations, Path(args.data)) + crisis_section
        Path(args.report).write_text(body, "utf-8")
        print(f"wrote {args.report}")
    return 0


def _evaluate_crisis(settings: Settings) -> str:
    """Print crisis recall and false alarms on the held-out set and the tuning sets."""
    from bot.runtime import build_detector, build_parser
    from nlu import evaluate
    from nlu.detector import CrisisDetector

    detector = build_detector()
    parser = build_parser(settings)

    def run(
        path: Path, check: CrisisDetector = detector, *, details: bool = True
    ) -> evaluate.CrisisEvaluation:
        examples = evaluate.load_crisis_examples(path)
        result = asyncio.run(evaluate.evaluate_crisis(check, parser, examples))
        print(evaluate.crisis_summary(path.name, result, details=details))
        return result

    # the held-out set's misses go to the report only: reading them while tuning spoils the set
    held_out = paths.NLU_CRISIS_DATA
    test = (held_out.name, run(held_out, details=False))
    rules_alone = run(held_out, CrisisDetector(detector.rules, None), details=False)
    tuning = [(path.name, run(path)) for path in sorted(paths.CRISIS_TUNING_DIR.glob("*.yml"))]
    return evaluate.crisis_report(test, tuning, without_classifier=rules_alone)


def cmd_nlu_serve(_settings: Settings | None, args: argparse.Namespace) -> int:
    """Serve the trained Rasa model (`rasa run --enable-api --auth-token`) in the foreground."""
    import os

    from nlu import rasa_tools

    try:
        command = rasa_tools.serve_command(load_rasa_token(), args.host, args.port)
    except rasa_tools.RasaNotInstalled as exc:
        raise ConfigError(f"{exc}.") from exc
    if not rasa_tools.model_path().is_file():
        raise ConfigError("no Rasa model for this training data: run `make rasa-model` first.")
    os.execve(command[0], command, rasa_tools.rasa_env())  # noqa: S606 - replaces this process


def cmd_nlu_parse(settings: Settings, args: argparse.Namespace) -> int:
    """Print one JSON parse result per message (argument, or one per stdin line)."""
    from dataclasses import replace

    from bot.runtime import build_detector, build_parser
    from nlu.parser import ParserUnavailable

    parser = build_parser(settings)
    detector = build_detector()

    async def parse_all(texts: Sequence[str]) -> None:
        for text in texts:
            try:
                parsed = await parser.parse(text)
                # the bot's own decision: rules, classifier, then the parser's crisis intents
                result = replace(parsed, crisis=detector.assess(text, parsed.crisis)).to_dict()
            except ParserUnavailable as exc:
                result = {"text": text, "error": str(exc)}
            sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
            sys.stdout.flush()

    texts = [args.text] if args.text is not None else (line.rstrip("\n") for line in sys.stdin)
    asyncio.run(parse_all(list(texts)))
    return 0


def cmd_nlu_lookups(_settings: Settings | None, args: argparse.Namespace) -> int:
    """Regenerate the location lookup table from the reference data."""
    from nlu.gazetteer import location_names, write_lookup

    shared = Path(args.shared)
    if not (shared / "geonames_KE.txt").is_file():
        raise ConfigError(f"{shared} does not hold the reference data (geonames_KE.txt).")
    names = location_names(shared)
    write_lookup(names, paths.LOCATION_LOOKUP)
    print(f"wrote {len(names)} place names to {paths.LOCATION_LOOKUP}")
    return 0


def cmd_services_import(_settings: Settings | None, args: argparse.Namespace) -> int:
    """Rebuild the committed facility directory and gazetteer from the reference data."""
    from bot.referral.importer import import_facilities
    from bot.referral.places import build_places, write_places

    shared, out = Path(args.shared), Path(args.out)
    csv_path = shared / "kmhfl_facilities_2020-05.csv"
    if not csv_path.is_file():
        raise ConfigError(f"{shared} does not hold the reference data ({csv_path.name}).")
    out.mkdir(parents=True, exist_ok=True)
    facilities = import_facilities(csv_path, out)
    places = build_places(shared)
    write_places(places, out / "places.tsv")
    print(f"wrote {facilities} facilities and {len(places)} places to {out}")
    return 0


def cmd_web(settings: Settings, args: argparse.Namespace) -> int:
    """Serve the web console and the web chat with uvicorn (the bot's runtime is prepared first)."""
    import uvicorn

    from bot.web.serve import build_console

    app = asyncio.run(build_console(settings))
    print(f"healthbot console at http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        log_config=None,  # our handler: JSON in production, the token filter
    )
    return 0


def cmd_content_validate(_settings: Settings | None, args: argparse.Namespace) -> int:
    """Check content and its consistency with the training data."""
    from bot.content.validate import validate

    report = validate(Path(args.content), Path(args.nlu_data))
    for warning in report.warnings:
        print(f"warning: {warning}")
    for error in report.errors:
        print(f"error: {error}")
    print("content OK" if report.ok else f"content has {len(report.errors)} error(s)")
    return 0 if report.ok else 1


def cmd_content_import(settings: Settings, args: argparse.Namespace) -> int:
    """Publish the items of content/ that are new or changed since they were last imported."""
    from bot.content.sync import import_files
    from bot.web.accounts import audit

    async def run(sessions: async_sessionmaker[AsyncSession]) -> int:
        report = await import_files(
            sessions, Path(args.content), Path(args.nlu_data), force=args.force
        )
        async with sessions() as session, session.begin():
            await audit(
                session=session,
                actor="cli",
                action="content.import",
                target="content",
                detail=f"{len(report.imported)} imported, {len(report.conflicts)} conflicts",
            )
        for item in report.imported:
            print(f"published from the files: {item}")
        for item in report.kept:
            print(f"kept the console's newer revision: {item} (export it to update the files)")
        for item in report.conflicts:
            print(f"conflict, skipped: {item} changed in the files and in the console")
        print(
            f"{len(report.imported)} imported, {len(report.unchanged)} unchanged, "
            f"{len(report.kept)} newer in the console, {len(report.conflicts)} conflicts"
        )
        if report.conflicts:
            print("use --force to let the files win (the console's revisions stay in history)")
        return 1 if report.conflicts else 0

    return _with_sessions(settings, run)


def cmd_content_export(settings: Settings, args: argparse.Namespace) -> int:
    """Write the published content back to content/ and nlu/data/, for review in git."""
    from bot.content.sync import export_files
    from bot.web.accounts import audit

    async def run(sessions: async_sessionmaker[AsyncSession]) -> int:
        report = await export_files(sessions, Path(args.content), Path(args.nlu_data))
        async with sessions() as session, session.begin():
            await audit(
                session=session,
                actor="cli",
                action="content.export",
                target="content",
                detail=f"{len(report.written)} files written",
            )
        for path in report.written:
            print(f"wrote {path}")
        print(
            f"{len(report.written)} file(s) written; review them with git diff, then commit"
            if report.written
            else "content/ already matches the published content"
        )
        return 0

    return _with_sessions(settings, run)


def cmd_counsellors_add(settings: Settings, args: argparse.Namespace) -> int:
    """Register a counsellor by Telegram user id, or rename one."""
    from bot.cases import repository as cases

    async def add(session: AsyncSession) -> str:
        known = await cases.counsellor_by_telegram_id(session=session, telegram_id=args.telegram_id)
        counsellor = await cases.add_counsellor(
            session=session, telegram_id=args.telegram_id, name=args.name
        )
        action = "added" if known is None else "updated"
        return (
            f"counsellor {counsellor.id} {action}: "
            f"telegram id {counsellor.telegram_id}, {counsellor.name}"
        )

    print(_in_session(settings, add))
    return 0


def cmd_counsellors_list(settings: Settings, _args: argparse.Namespace) -> int:
    """Print one line per counsellor: id, telegram id, name, duty."""
    from bot.cases import repository as cases

    async def listing(session: AsyncSession) -> str:
        rows = await cases.list_counsellors(session=session)
        lines = [
            f"{c.id}\t{c.telegram_id or '-'}\t{c.name}\t{'on duty' if c.on_duty else 'off duty'}"
            for c in rows
        ]
        return "\n".join(lines) or "(no counsellors)"

    print(_in_session(settings, listing))
    return 0


def cmd_counsellors_remove(settings: Settings, args: argparse.Namespace) -> int:
    """Remove a counsellor; their active case goes back to the queue."""
    from bot.cases import repository as cases

    async def remove(session: AsyncSession) -> bool:
        return await cases.remove_counsellor(session=session, telegram_id=args.telegram_id)

    if _in_session(settings, remove):
        print(f"counsellor removed: telegram id {args.telegram_id}")
        return 0
    print(f"no counsellor with telegram id {args.telegram_id}", file=sys.stderr)
    return 1


def cmd_users_add(settings: Settings, args: argparse.Namespace) -> int:
    """Create a web console account, or give one a new password and role."""
    from bot.web import accounts

    try:
        password = _read_password()
        accounts.validate_user(username=args.username, password=password, role=args.role)
    except ValueError as exc:
        print(f"healthbot: {exc}", file=sys.stderr)
        return 2

    async def add(session: AsyncSession) -> str:
        known = await accounts.user_by_name(session=session, username=args.username)
        user = await accounts.add_user(
            session=session, username=args.username, password=password, role=args.role
        )
        verb = "added" if known is None else "updated"
        await accounts.audit(
            session=session,
            actor="cli",
            action="user.add" if known is None else "user.update",
            target=f"user {user.username}",
            detail=f"role {user.role}",
        )
        counsellor = await accounts.counsellor_of(session=session, user_id=user.id)
        linked = f", counsellor {counsellor.id}" if user.role == "counsellor" and counsellor else ""
        return f"user {user.username} {verb}: {user.role}{linked}"

    print(_in_session(settings, add))
    return 0


def cmd_users_list(settings: Settings, _args: argparse.Namespace) -> int:
    """Print one line per web account: id, username, role, last login (and a lock)."""
    from bot.db.models import utcnow
    from bot.web import accounts

    async def listing(session: AsyncSession) -> str:
        now = utcnow()
        lines = []
        for user in await accounts.list_users(session=session):
            seen = f"{user.last_login_at:%Y-%m-%d %H:%M} UTC" if user.last_login_at else "never"
            state = f"last login {seen}"
            if user.locked_until and accounts.is_locked(user, now=now):
                state += f", locked until {user.locked_until:%H:%M} UTC"
            lines.append(f"{user.id}\t{user.username}\t{user.role}\t{state}")
        return "\n".join(lines) or "(no users)"

    print(_in_session(settings, listing))
    return 0


def cmd_users_remove(settings: Settings, args: argparse.Namespace) -> int:
    """Delete a web account; a counsellor's active case goes back to the queue."""
    from bot.web import accounts

    async def remove(session: AsyncSession) -> bool:
        removed = await accounts.remove_user(session=session, username=args.username)
        if removed:
            await accounts.audit(
                session=session, actor="cli", action="user.remove", target=f"user {args.username}"
            )
        return removed

    if _in_session(settings, remove):
        print(f"user {args.username} removed")
        return 0
    print(f"no user {args.username}", file=sys.stderr)
    return 1


def cmd_purge(settings: Settings, args: argparse.Namespace) -> int:
    """Delete what is past its retention time; print the rows deleted per table."""
    from bot.retention import purge

    days = args.days if args.days is not None else settings.retention_days

    async def run(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
        return (await purge(sessions, retention_days=days)).counts()

    for table, count in _with_sessions(settings, run).items():
        print(f"{table}\t{count}")
    return 0


def _read_password() -> str:
    """Ask twice on a terminal; otherwise take the first line of standard input."""
    import getpass

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise ValueError("The two passwords differ.")
    return password


def _in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Upgrade the schema, then run `work` in one committed transaction."""

    async def run(sessions: async_sessionmaker[AsyncSession]) -> T:
        async with sessions() as session, session.begin():
            return await work(session)

    return _with_sessions(settings, run)


def _with_sessions(
    settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    """Upgrade the schema, then run `work` with a session factory."""
    from bot.db import migrate
    from bot.db.session import create_engine, session_factory

    async def main() -> T:
        await migrate.upgrade(settings.migration_url)
        engine = create_engine(settings.database_url)
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _telegram_id(value: str) -> int:
    """A Telegram user id: a positive whole number."""
    if not value.isdigit() or int(value) <= 0:
        raise argparse.ArgumentTypeError(f"not a Telegram user id: {value!r}")
    return int(value)


def _days(value: str) -> int:
    """A retention period: a whole number of days, 1 to 3650."""
    if not value.isdigit() or not 1 <= int(value) <= 3650:
        raise argparse.ArgumentTypeError(f"not a number of days from 1 to 3650: {value!r}")
    return int(value)


def _staff_name(value: str) -> str:
    """A counsellor's name: 1 to 80 characters."""
    name = value.strip()
    if not name or len(name) > 80:
        raise argparse.ArgumentTypeError("the name needs 1 to 80 characters")
    return name


def build_arg_parser() -> argparse.ArgumentParser:
    """The command tree."""
    parser = argparse.ArgumentParser(
        prog="healthbot",
        description="Health information and referral chat-bot for young people in Kenya.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the Telegram bot (polling, or --webhook)")
    run.add_argument(
        "--webhook",
        action="store_true",
        help="webhook mode: serve WEBHOOK_URL's path, /healthz, /readyz and /metrics",
    )
    run.add_argument("--host", help="webhook mode: address to listen on (HOST, default 0.0.0.0)")
    run.add_argument("--port", type=int, help="webhook mode: port (PORT, default 8080)")
    run.set_defaults(handler=cmd_run)
    sub.add_parser("chat", help="chat with the bot in this terminal").set_defaults(handler=cmd_chat)
    sub.add_parser(
        "start", help="Telegram when TELEGRAM_BOT_TOKEN is set, else the terminal chat (make run)"
    ).set_defaults(handler=cmd_start, webhook=False)

    db = sub.add_parser(
        "db",
        help="database schema: upgrade, downgrade, current (as MIGRATION_DATABASE_URL's role, "
        "else DATABASE_URL's)",
    )
    db.add_argument("action", choices=("upgrade", "downgrade", "current"))
    db.add_argument("revision", nargs="?", help="target revision (default head / base)")
    db.set_defaults(handler=cmd_db)

    nlu = sub.add_parser("nlu", help="train the NLU model or parse messages")
    nlu_sub = nlu.add_subparsers(dest="nlu_command", required=True, metavar="ACTION")
    train = nlu_sub.add_parser(
        "train", help="train the NLU model and the crisis classifier (each reused if unchanged)"
    )
    train.add_argument("--backend", choices=("embedded", "rasa"), default="embedded")
    train.add_argument("--force", action="store_true", help="retrain even if unchanged")
    train.set_defaults(handler=cmd_nlu_train)
    evaluate = nlu_sub.add_parser("evaluate", help="accuracy and F1 on the held-out set")
    evaluate.add_argument(
        "--backend",
        choices=("embedded", "rasa", "both"),
        default="embedded",
        help="rasa and both need the Rasa server at RASA_URL (make rasa-serve)",
    )
    evaluate.add_argument("--data", default=str(paths.NLU_TEST_DATA), help="labelled Rasa file")
    evaluate.add_argument("--cv", action="store_true", help="also 5-fold CV of the embedded parser")
    evaluate.add_argument(
        "--crisis",
        action="store_true",
        help=(
            "also crisis recall and false alarms per level, category and language (the held-out"
            " nlu/tests/crisis.yml: figures only; the tuning sets in nlu/crisis_tuning/: with"
            " every miss and false alarm)"
        ),
    )
    evaluate.add_argument(
        "--report",
        default=str(paths.PROJECT_ROOT / "docs" / "nlu-report.md"),
        help="where to write the Markdown report (default docs/nlu-report.md; '' for none)",
    )
    evaluate.set_defaults(handler=cmd_nlu_evaluate)
    serve = nlu_sub.add_parser(
        "serve", help="serve the Rasa model at 127.0.0.1:5005; its API needs RASA_TOKEN (.env)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5005)
    serve.set_defaults(handler=cmd_nlu_serve, needs_settings=False)
    parse = nlu_sub.add_parser("parse", help="parse TEXT, or each stdin line, to JSON")
    parse.add_argument("text", nargs="?", help="one message; without it, read stdin lines")
    parse.set_defaults(handler=cmd_nlu_parse)

    lookups = nlu_sub.add_parser("lookups", help="rebuild the location lookup from shared/data")
    lookups.add_argument("--shared", default=str(paths.PROJECT_ROOT.parent / "shared" / "data"))
    lookups.set_defaults(handler=cmd_nlu_lookups, needs_settings=False)

    content = sub.add_parser("content", help="curated content: validate, import, export")
    content_sub = content.add_subparsers(dest="content_command", required=True, metavar="ACTION")
    validate = content_sub.add_parser("validate", help="check content/ and its training data")
    validate.add_argument("--content", default=str(paths.CONTENT_DIR), help=argparse.SUPPRESS)
    validate.add_argument("--nlu-data", default=str(paths.NLU_DATA_DIR), help=argparse.SUPPRESS)
    validate.set_defaults(handler=cmd_content_validate, needs_settings=False)
    imports = content_sub.add_parser(
        "import",
        help="publish the items of content/ that are new or changed (the bot does it on start)",
    )
    imports.add_argument("--force", action="store_true", help="the files win over console edits")
    exports = content_sub.add_parser(
        "export", help="write the published content back to content/ and nlu/data/"
    )
    for action, handler in ((imports, cmd_content_import), (exports, cmd_content_export)):
        action.add_argument("--content", default=str(paths.CONTENT_DIR), help=argparse.SUPPRESS)
        action.add_argument("--nlu-data", default=str(paths.NLU_DATA_DIR), help=argparse.SUPPRESS)
        action.set_defaults(handler=handler)

    services = sub.add_parser("services", help="the facility directory and place names")
    services_sub = services.add_subparsers(dest="services_command", required=True, metavar="ACTION")
    imports = services_sub.add_parser(
        "import", help="rebuild content/services/ from shared/data (KMHFL, counties, GeoNames)"
    )
    imports.add_argument("--shared", default=str(paths.PROJECT_ROOT.parent / "shared" / "data"))
    imports.add_argument(
        "--out", default=str(paths.CONTENT_DIR / "services"), help=argparse.SUPPRESS
    )
    imports.set_defaults(handler=cmd_services_import, needs_settings=False)

    counsellors = sub.add_parser("counsellors", help="who can take cases on Telegram")
    counsellors_sub = counsellors.add_subparsers(
        dest="counsellors_command", required=True, metavar="ACTION"
    )
    add = counsellors_sub.add_parser("add", help="register a counsellor (again: rename them)")
    add.add_argument("--telegram-id", type=_telegram_id, required=True, help="Telegram user id")
    add.add_argument("--name", type=_staff_name, required=True, help="staff name (1-80 chars)")
    add.set_defaults(handler=cmd_counsellors_add)
    counsellors_sub.add_parser(
        "list", help="print id, telegram id, name and duty, one counsellor a line"
    ).set_defaults(handler=cmd_counsellors_list)
    remove = counsellors_sub.add_parser(
        "remove", help="remove a counsellor (their active case goes back to the queue)"
    )
    remove.add_argument("--telegram-id", type=_telegram_id, required=True, help="Telegram user id")
    remove.set_defaults(handler=cmd_counsellors_remove)
    _add_users_parser(sub)

    web = sub.add_parser("web", help="serve the web console and the web chat (port 8000)")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8000)
    web.set_defaults(handler=cmd_web)

    purge = sub.add_parser(
        "purge",
        help="delete message records, transcripts and inactive users older than RETENTION_DAYS "
        "(and other expired rows); print the count per table",
    )
    purge.add_argument("--days", type=_days, help="retention in days (default RETENTION_DAYS, 90)")
    purge.set_defaults(handler=cmd_purge)
    return parser


def _add_users_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`healthbot users add|list|remove`: accounts of the web console."""
    from bot.web.accounts import ROLES

    users = sub.add_parser("users", help="accounts of the web console")
    users_sub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = users_sub.add_parser(
        "add", help="create an account (again: new password and role); password on stdin or asked"
    )
    add.add_argument("--username", required=True, help="3-64 of a-z 0-9 _ . -")
    add.add_argument("--role", choices=ROLES, required=True)
    add.set_defaults(handler=cmd_users_add)
    users_sub.add_parser(
        "list", help="print id, username, role and last login, one account a line"
    ).set_defaults(handler=cmd_users_list)
    remove = users_sub.add_parser("remove", help="delete an account")
    remove.add_argument("--username", required=True)
    remove.set_defaults(handler=cmd_users_remove)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `healthbot` console script."""
    args = build_arg_parser().parse_args(argv)
    try:
        settings = load_settings() if getattr(args, "needs_settings", True) else None
        if settings is not None:
            configure_logging(settings.log_level, settings.log_format)
        return int(args.handler(settings, args))
    except ConfigError as exc:
        print(f"healthbot: {exc}", file=sys.stderr)
        return 2
    except ContentError as exc:
        print(
            f"healthbot: the content is invalid ({len(exc.problems)} problem(s)):", file=sys.stderr
        )
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _safe_base(settings: Settings) -> str:
    return settings.telegram_api_base_url.split("?", 1)[0]


if __name__ == "__main__":
    raise SystemExit(main())
