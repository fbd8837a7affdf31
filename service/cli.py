"""The `aza-cds` command: serve, replay, timeline, bench, burden, report, trust new-client, knowledge check and
catalogue."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import orjson

from service.config import ConfigError, Settings


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    from service.observability.logs import configure

    default = "json" if args.run is _serve else "text"  # the service logs JSON lines; the tools, readable text
    log_format = os.environ.get("AZA_CDS_LOG_FORMAT", default).strip().lower() or default
    if log_format not in ("json", "text"):
        print(f"aza-cds: configuration error: AZA_CDS_LOG_FORMAT must be 'json' or 'text', not {log_format!r}",
              file=sys.stderr)  # fmt: skip
        return 2
    configure(log_format)
    try:
        return args.run(args)
    except ConfigError as error:
        print(f"aza-cds: configuration error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader stopped early (`aza-cds report | head`): that is its choice, not an error. Point stdout at
        # /dev/null so that the interpreter's last flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aza-cds", description="CDS Hooks 2.0 service for azathioprine safety")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the service under gunicorn")
    serve.add_argument("--host", default=os.environ.get("AZA_CDS_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("AZA_CDS_PORT", "8080")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("AZA_CDS_WORKERS", "2")))
    serve.add_argument(
        "--dev",
        action="store_true",
        help="developer mode: trust the CDS Hooks sandbox's published key, allow http call-backs to loopback",
    )
    serve.set_defaults(run=_serve)

    replay = commands.add_parser("replay", help="send request fixtures and show the cards")
    replay.add_argument("paths", nargs="+", metavar="PATH", help="fixture files or folders of them")
    replay.add_argument("--url", help="base URL of a running service (default: in-process)")
    replay.add_argument("--json", action="store_true", help="print each response as a JSON line")
    replay.add_argument("--check", action="store_true", help="compare with expected outcomes; exit 1 on a difference")
    replay.add_argument("--sign-key", type=Path, help="PEM private key to sign a JWT for each call (with --url)")
    replay.add_argument("--iss", help="issuer of the signed JWTs")
    replay.add_argument("--kid", help="key id of the signed JWTs")
    replay.set_defaults(run=_replay)

    timeline = commands.add_parser("timeline", help="draw the monitoring timeline of a fixture or a request")
    timeline.add_argument("request", type=Path, metavar="REQUEST.json", help="a replay fixture or a CDS Hooks request")
    timeline.add_argument("--out", type=Path, required=True, help="the file to write: .svg, .png or .html")
    timeline.add_argument("--months", type=int, default=12, help="months back from today (default 12)")
    timeline.set_defaults(run=_timeline)

    bench = commands.add_parser("bench", help="measure aza-cds side by side with a floor app and a naive parse")
    bench.add_argument("--runs", type=int, default=300, help="timed calls per in-process measurement")
    bench.add_argument("--http", action="store_true", help="also compare both apps under gunicorn with wrk")
    bench.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    bench.add_argument("--workers", type=int, default=2, help="gunicorn workers for both apps")
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")
    bench.set_defaults(run=_bench)

    report = commands.add_parser("report", help="override analytics per rule from the audit trail and feedback")
    report.add_argument("--since", default="30d", help="period to report, like 30d, 12h or 6w (default 30d)")
    report.add_argument("--format", choices=("table", "json"), default="table")
    report.add_argument("--plot", type=Path, help="also write a bar chart of override rates to this PNG file")
    report.set_defaults(run=_report)

    burden = commands.add_parser("burden", help="cards per 100 calls on a population of FHIR patient bundles")
    burden.add_argument(
        "paths", nargs="+", metavar="PATH", help="patient Bundle files or folders of them (Synthea output)"
    )
    burden.add_argument("--now", help="reference time, YYYY-MM-DD or a FHIR dateTime (default: now)")
    burden.add_argument(
        "--current-monitoring",
        action="store_true",
        help="add normal CBC, liver and renal results and a weight 40 and 10 days before --now",
    )
    burden.add_argument("--examples", type=int, default=3, help="example cards to show per rule (default 3)")
    burden.add_argument("--json", action="store_true", help="print the report as JSON")
    burden.add_argument("--plot", type=Path, help="write a bar chart of cards per 100 calls by rule (PNG)")
    burden.set_defaults(run=_burden)

    trust = commands.add_parser("trust", help="trust-file tools")
    trust_commands = trust.add_subparsers(required=True, metavar="ACTION")
    new_client = trust_commands.add_parser("new-client", help="make a client key pair and a trust file for it")
    new_client.add_argument("--iss", required=True, help="the issuer the client will put in its tokens")
    new_client.add_argument("--out", type=Path, required=True, help="folder for client-key.pem and trust.json")
    new_client.add_argument("--force", action="store_true", help="replace a key pair already in that folder")
    new_client.set_defaults(run=_new_client)

    knowledge = commands.add_parser("knowledge", help="knowledge-pack tools")
    knowledge_commands = knowledge.add_subparsers(required=True, metavar="ACTION")
    check = knowledge_commands.add_parser("check", help="validate the knowledge pack")
    check.set_defaults(run=_knowledge_check)
    listing = knowledge_commands.add_parser("catalogue", help="print the rules as a Markdown table (docs/rules.md)")
    listing.add_argument("--out", type=Path, help="write to this file instead of printing")
    listing.set_defaults(run=_knowledge_catalogue)
    return parser


def _serve(args) -> int:
    import shutil
    import tempfile

    # Workers add their metrics up through files; prometheus_client reads this before it is first imported. A
    # folder made here belongs to this instance alone and goes at a clean stop; one given by the operator stays.
    made = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        made = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="aza-cds-metrics-")
    try:
        from service.serve import serve

        if args.dev:
            os.environ["AZA_CDS_DEV"] = "on"
        Settings.from_env()  # fail on a bad setting before gunicorn starts
        serve(args.host, args.port, args.workers)  # gunicorn ends with SystemExit, also after SIGTERM or SIGINT
    finally:
        if made:
            shutil.rmtree(made, ignore_errors=True)
    return 0


def _replay(args) -> int:
    from service import replay

    logging.getLogger("aza_cds").setLevel(logging.ERROR)
    signer = None
    if args.sign_key:
        from service.auth.client import TokenSigner

        if not (args.url and args.iss and args.kid):
            print("aza-cds: --sign-key needs --url, --iss and --kid", file=sys.stderr)
            return 2
        signer = TokenSigner(args.sign_key, args.iss, args.kid)
    sender = replay.OverHttp(args.url, signer) if args.url else replay.InProcess()
    paths = replay.json_files(args.paths)
    failures = 0
    for path in paths:
        try:
            outcome = replay.replay(path, sender)
        except (OSError, ValueError) as error:  # unreadable file, or JSON that is not a fixture
            print(f"{path}: not a replayable fixture: {error}", file=sys.stderr)
            failures += 1
            continue
        failures += bool(args.check and outcome.problems)
        if args.json:
            line = {"fixture": str(path), "service": outcome.service, "status": outcome.status, "body": outcome.body}
            if args.check:
                line["problems"] = list(outcome.problems)
            print(orjson.dumps(line).decode())
        else:
            replay.print_outcome(outcome, args.check)
    if args.check:
        print(f"replay: {failures} of {len(paths)} fixtures differ or could not be read", file=sys.stderr)
    return 1 if failures else 0


def _timeline(args) -> int:
    from service.fhir.prefetch import DataUnavailable
    from service.protocol import InvalidCall, SchemaViolation
    from service.timeline_request import TimelineInputError, draw_request

    logging.getLogger("aza_cds").setLevel(logging.ERROR)
    if not 1 <= args.months <= 120:
        print("aza-cds: --months must be from 1 to 120", file=sys.stderr)
        return 2
    try:
        draw_request(args.request, args.out, args.months)
    except (TimelineInputError, SchemaViolation, InvalidCall, DataUnavailable) as error:
        print(f"aza-cds timeline: {error}", file=sys.stderr)
        return 2
    print(f"timeline written to {args.out}")
    return 0


def _bench(args) -> int:
    from service import bench

    logging.getLogger("aza_cds").setLevel(logging.ERROR)

    def progress(message: str) -> None:
        print(f"bench: {message}", file=sys.stderr, flush=True)  # stderr: --json output on stdout stays parseable

    report = bench.run(runs=args.runs, http=args.http, duration=args.duration, workers=args.workers, progress=progress)
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())
    else:
        bench.print_report(report)
    return 0


def _report(args) -> int:
    from service import report
    from service.store import open_database

    try:
        since = report.parse_since(args.since)
    except report.ReportError as error:
        print(f"aza-cds: {error}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    sqlite_file = None if settings.database_url else (settings.data_dir / "aza-cds.sqlite3").resolve()
    if sqlite_file and not sqlite_file.exists():  # say so rather than create an empty database here
        print(f"aza-cds: no database at {sqlite_file}: set AZA_CDS_DATA_DIR (or AZA_CDS_DATABASE_URL) to the "
              "service's", file=sys.stderr)  # fmt: skip
        return 0
    rows = report.override_report(open_database(settings.sqlalchemy_url), since)
    if args.format == "json":
        print(orjson.dumps({"since": since.isoformat(), "rules": rows}, option=orjson.OPT_INDENT_2).decode())
    elif rows:
        print(report.as_table(rows))
    if not rows:
        # a URL may hold a password: name the setting, not its value
        where = "AZA_CDS_DATABASE_URL" if settings.database_url else settings.sqlalchemy_url.removeprefix("sqlite:///")
        print(f"aza-cds: no cards were shown since {since:%Y-%m-%d %H:%M} UTC (database: {where})", file=sys.stderr)
        if args.plot:
            print(f"aza-cds: nothing to plot: {args.plot} was not written", file=sys.stderr)
        return 0
    if args.plot:
        try:
            report.plot(rows, args.plot, since)
        except report.ReportError as error:
            print(f"aza-cds: {error}", file=sys.stderr)
            return 2
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


def _burden(args) -> int:
    from datetime import UTC, datetime

    from service import burden
    from service.knowledge import load_pack
    from service.record.dates import parse_fhir_datetime

    now = parse_fhir_datetime(args.now) if args.now else datetime.now(UTC)
    if now is None:
        print(f"aza-cds: --now takes YYYY-MM-DD or a FHIR dateTime, not {args.now!r}", file=sys.stderr)
        return 2
    logging.getLogger("aza_cds").setLevel(logging.ERROR)
    settings = Settings.from_env()
    pack = load_pack(settings.knowledge_dir)

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() or done == total:
            bar = "#" * (30 * done // total)
            print(f"\rburden: [{bar:<30}] {done}/{total} files", end="\n" if done == total else "", file=sys.stderr,
                  flush=True)  # fmt: skip

    result = burden.run(
        args.paths,
        pack,
        now,
        current_monitoring=args.current_monitoring,
        progress=progress,
        lab_prefetch=settings.lab_prefetch,  # AZA_CDS_PREFETCH_LABS and _CONDITIONS, as the service reads them
        condition_prefetch=settings.condition_prefetch,
    )
    if not result.patients:
        print("aza-cds: no patient bundles found in " + " ".join(args.paths), file=sys.stderr)
        return 2
    if args.json:
        print(orjson.dumps(result.as_dict(args.examples), option=orjson.OPT_INDENT_2).decode())
    else:
        burden.print_report(result, args.examples)
    if args.plot:
        try:
            burden.plot(result, args.plot)
        except RuntimeError as error:
            print(f"aza-cds: {error}", file=sys.stderr)
            return 2
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


def _new_client(args) -> int:
    from service.auth.client import TokenSigner, new_client

    existing = [path for path in (args.out / "client-key.pem", args.out / "trust.json") if path.exists()]
    if existing and not args.force:
        names = " and ".join(str(path) for path in existing)
        print(f"aza-cds: {names} already exist; keep them, or give --force to replace them", file=sys.stderr)
        return 1
    key_path, trust_path = new_client(args.iss, args.out)
    print(f"private key: {key_path} (keep it secret)\ntrust file:  {trust_path} (give it to the service)")
    print(f"kid:         {TokenSigner.kid_of(trust_path)}")
    return 0


def _knowledge_check(args) -> int:
    from service.knowledge import check_pack, load_pack

    settings = Settings.from_env()
    problems = check_pack(settings.knowledge_dir)
    for problem in problems:
        print(f"knowledge: {problem}")
    if problems:
        return 1
    pack = load_pack(settings.knowledge_dir)
    print(f"knowledge: pack {pack.id} {pack.version} is valid: {len(pack.rules)} rules, {len(pack.concepts)} concepts")
    return 0


def _knowledge_catalogue(args) -> int:
    from service.knowledge import load_pack
    from service.rules_markdown import catalogue

    text = catalogue(load_pack(Settings.from_env().knowledge_dir))
    if args.out:
        args.out.write_text(text)
        print(f"catalogue written to {args.out}", file=sys.stderr)
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
