"""The guide the local runtime prints at start: where everything listens and what to try."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from walocal.runtime import LocalRuntime


def _shown(value: str, default: str, variable: str) -> str:
    """The documented local default as is; a value of the user's (perhaps a real one) never."""
    return value if value == default else f"<set by {variable}>"


def _schedule_lines(runtime: LocalRuntime) -> list[str]:
    assert runtime.stack is not None
    upcoming = runtime.scheduler.next_fire_times() if runtime.scheduler else {}
    lines = []
    for schedule in runtime.template.schedules():
        when = upcoming.get(schedule.name)
        state = (
            f"next {when:%Y-%m-%d %H:%M} UTC" if when else str(runtime.stack.resolver.resolve(schedule.state))
        )
        lines.append(
            f"  schedule             {schedule.name} -> {schedule.function} "
            f"{runtime.stack.resolver.resolve(schedule.expression)} ({state}; fire now: "
            f"wa-local fire-schedule {schedule.name})"
        )
    return lines


def _operator_lines(runtime: LocalRuntime) -> list[str]:
    """The operator commands, with the options that point them at this runtime's ports."""
    config = runtime.config
    target = "--local"
    if config.aws_endpoint != "http://127.0.0.1:4566":
        target += f" --endpoint-url {config.aws_endpoint}"
    if config.invoke_url != "http://127.0.0.1:3001":
        target += f" --invoke-url {config.invoke_url}"
    lines = []
    if runtime.simulating_graph_api:
        url = "" if config.graph_port == 3002 else f" --url {config.simulator_url}"
        lines.append(f"  .venv/bin/python -m walocal.simulator inbound{url} --from 16505551234 --text hi")
        lines.append(f"  .venv/bin/python -m walocal.simulator inbound{url} --from 16505551234 --image")
    return [
        *lines,
        f"  .venv/bin/wactl conversation 16505551234 {target}",
        f'  .venv/bin/wactl send {target} --to 16505551234 --text "Hello from the business"',
        f"  .venv/bin/wactl failed {target}",
        f"  .venv/bin/wactl media get <wamid> {target} -o photo.jpg",
    ]


def startup_guide(runtime: LocalRuntime) -> str:
    """What ``make run`` prints once everything listens: where, and what to try."""
    config = runtime.config
    from walocal.runtime import LOCAL_APP_SECRET, LOCAL_VERIFY_TOKEN  # noqa: PLC0415 (runtime imports this)

    verify_token = _shown(config.verify_token, LOCAL_VERIFY_TOKEN, "WHATSAPP_VERIFY_TOKEN")
    assert runtime.stack is not None
    graph = config.effective_graph_api_url
    return "\n".join(
        [
            "WhatsApp Cloud API pipeline running locally",
            f"  webhook (HTTP API)   {config.webhook_url}",
            f"  Lambda Invoke API    {config.invoke_url}  functions: {', '.join(runtime.functions)}",
            f"  Graph API            {graph}{'  (simulator)' if config.graph_api_url is None else ''}",
            f"  emulated AWS (moto)  {config.aws_endpoint}",
            f"  table                {', '.join(runtime.stack.table_names.values())}",
            *_schedule_lines(runtime),
            f"  queues               {', '.join(runtime.stack.queue_urls.values())}",
            "",
            "Local secret values (WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN, WHATSAPP_ACCESS_TOKEN):",
            f"  app_secret={_shown(config.app_secret, LOCAL_APP_SECRET, 'WHATSAPP_APP_SECRET')}  "
            f"verify_token={verify_token}  phone_number_id={config.phone_number_id}",
            "",
            "Try:",
            f"  curl '{config.webhook_url}?hub.mode=subscribe&hub.verify_token={verify_token}"
            "&hub.challenge=42'",
            "  .venv/bin/wa-local post-webhook events/webhooks/message_text.json",
            "  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing .venv/bin/aws lambda invoke "
            f"--region us-east-1 --endpoint-url {config.invoke_url} --function-name SenderFunction "
            '--payload \'{"to": "16505551234", "type": "template", '
            '"template": {"name": "hello_world", "language": {"code": "en_US"}}}\' out.json',
            *_operator_lines(runtime),
            "",
            "Ctrl-C stops everything (the emulated AWS state lives in memory).",
        ]
    )
