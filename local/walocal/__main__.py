"""``wa-local``: run the pipeline locally, or post a signed webhook to it."""

from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

import requests

from wacloud.meta.signature import SIGNATURE_HEADER, sign
from walocal.guide import startup_guide
from walocal.runtime import LocalRuntime, RuntimeConfig, RuntimeConfigError, schedule_event
from walocal.template import Template

# How long stopping may take before wa-local exits anyway (workers are killed first, so this is ample).
STOP_GRACE_SECONDS = 20.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wa-local", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("run", help="run the whole pipeline in the foreground (the default)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--webhook-port", type=int, default=3000)
    run.add_argument("--invoke-port", type=int, default=3001)
    run.add_argument("--graph-port", type=int, default=3002)
    run.add_argument("--aws-port", type=int, default=4566)
    run.add_argument("--log-level", default=os.environ.get("LOCAL_LOG_LEVEL", "INFO"))
    run.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters, e.g. ReminderScheduleState=ENABLED",
    )
    run.add_argument(
        "--template",
        type=Path,
        default=None,
        help="a SAM template to run instead of template.yaml (CodeUri paths stay relative to the project)",
    )
    post = commands.add_parser("post-webhook", help="sign a payload with the app secret and POST it")
    post.add_argument("payload", type=Path, help="a webhook payload, e.g. events/webhooks/message_text.json")
    post.add_argument("--url", default="http://127.0.0.1:3000/webhook")
    post.add_argument("--unsigned", action="store_true", help="send it without a signature")
    fire = commands.add_parser("fire-schedule", help="run a schedule of the template now")
    fire.add_argument("name", help="the ScheduleV2 event's name, e.g. DailyReminder")
    fire.add_argument("--invoke-url", default="http://127.0.0.1:3001")
    words = list(sys.argv[1:] if argv is None else argv)
    if not words or (words[0].startswith("-") and words[0] not in {"-h", "--help"}):
        words.insert(0, "run")  # `wa-local --webhook-port 4000` means `wa-local run ...`
    args = parser.parse_args(words)
    if args.command == "post-webhook":
        return _post_webhook(args.payload, args.url, args.unsigned)
    if args.command == "fire-schedule":
        return _fire_schedule(args.name, args.invoke_url)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # The emulator's access log and botocore's endpoint notes drown the functions' own logs.
    for noisy in ("werkzeug", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    config = RuntimeConfig.from_env(
        os.environ,
        host=args.host,
        webhook_port=args.webhook_port,
        invoke_port=args.invoke_port,
        graph_port=args.graph_port,
        aws_port=args.aws_port,
        parameters=dict(_key_value(item) for item in args.parameter_overrides),
    )
    runtime = LocalRuntime(config, Template.load(args.template) if args.template else None)
    # Installed before starting, so that a stop asked for during start-up is not lost.
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    try:
        runtime.start()
    except (RuntimeConfigError, OSError) as exc:
        print(f"wa-local: cannot start: {exc}", file=sys.stderr)
        return _stop_within(runtime, STOP_GRACE_SECONDS, code=1)
    print(startup_guide(runtime), flush=True)
    stopped.wait()
    return _stop_within(runtime, STOP_GRACE_SECONDS)


def _stop_within(runtime: LocalRuntime, seconds: float, code: int = 0) -> int:
    """Stop everything, but never hang: past ``seconds``, say what is stuck and exit anyway."""
    stopper = threading.Thread(target=runtime.stop, name="stop", daemon=True)
    stopper.start()
    stopper.join(seconds)
    if stopper.is_alive():
        print(f"wa-local: stopping took over {seconds:.0f} s; exiting anyway. Its threads:", file=sys.stderr)
        faulthandler.dump_traceback(file=sys.stderr)
        sys.stderr.flush()
        os._exit(1)
    # Python waits for every non-daemon thread at exit: one still finishing an invocation (an
    # asynchronous retry, a worker's output) must not keep a stopped runtime alive.
    lingering = [
        thread.name
        for thread in threading.enumerate()
        if thread is not threading.current_thread() and not thread.daemon and thread.is_alive()
    ]
    if lingering:
        logging.getLogger("walocal").info("stopped; leaving threads %s behind", ", ".join(lingering))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"wa-local: --parameter-overrides takes KEY=VALUE, got {text!r}")
    return key, value


def _fire_schedule(name: str, invoke_url: str) -> int:
    """Invoke the schedule's target with the schedule's input, as Scheduler would."""
    schedules = {schedule.name: schedule for schedule in Template.load().schedules()}
    if name not in schedules:
        print(f"wa-local: no schedule {name!r}; the template has: {', '.join(schedules)}", file=sys.stderr)
        return 2
    schedule = schedules[name]
    if not isinstance(schedule.input, str | None):
        print(f"wa-local: {name}'s Input is not a literal string", file=sys.stderr)
        return 2
    url = f"{invoke_url}/2015-03-31/functions/{schedule.function}/invocations"
    response = requests.post(url, data=json.dumps(schedule_event(schedule.input)), timeout=900)
    print(f"{schedule.function}: {response.status_code} {response.text}")
    return 0 if response.ok and "X-Amz-Function-Error" not in response.headers else 1


def _post_webhook(payload: Path, url: str, unsigned: bool) -> int:
    body = payload.read_bytes()
    headers = {"content-type": "application/json"}
    if not unsigned:
        secret = os.environ.get("WHATSAPP_APP_SECRET") or RuntimeConfig().app_secret
        headers[SIGNATURE_HEADER] = sign(body, secret)
    response = requests.post(url, data=body, headers=headers, timeout=10)
    print(f"{response.status_code} {response.text}")
    return 0 if response.ok else 1


if __name__ == "__main__":
    sys.exit(main())
