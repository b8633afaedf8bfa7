"""Fail closed: what a process refuses to start with under `TRDFLOW_ENV=production`.

Every process (the worker, the API, the codec server) calls `check_production` first. It lists
every problem at once, one line each naming the setting to fix, and never quotes a value (a
setting may be a key or a token). In development (the default) it checks nothing: the local
stack's dev keys, outbox providers and plaintext connections stay as they are.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import urlsplit

import structlog

from store.db import unverified_transport
from worker.client import TemporalConfigError, temporal_connect_config, temporal_transport_problems
from worker.codec import configured_keys, key_problems
from worker.settings import Settings

log = structlog.get_logger(__name__)


class ProductionConfigError(SystemExit):
    """The settings are not fit for production. A SystemExit: nothing may catch it and carry
    on, and the process exits 1 printing the message, without a traceback."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            f"TRDFLOW_ENV=production: refusing to start until these settings are fixed:\n{lines}"
        )


def check_production(settings: Settings, env: Mapping[str, str] | None = None) -> None:
    """Raise ProductionConfigError listing every problem, if `settings` are production's.
    `env`: the environment the Temporal client configuration is read from (this process's by
    default)."""
    problems = production_problems(settings, env)
    if problems:
        log.error(
            "production_settings_refused",
            settings=sorted({problem.partition(":")[0] for problem in problems}),
        )
        raise ProductionConfigError(problems)


def production_problems(settings: Settings, env: Mapping[str, str] | None = None) -> list[str]:
    """Every reason `settings` cannot run in production, one line each, each line starting with
    the setting to fix; none outside production."""
    if not settings.production:
        return []
    return [
        *_codec_keys(settings),
        *_database(settings),
        *_temporal(settings, env),
        *_webhooks(settings),
        *_providers(settings),
        *_dev_switches(settings),
    ]


def _codec_keys(settings: Settings) -> Iterator[str]:
    if settings.codec_keys is None:
        # A key minted on one host is unknown to the others, and lost with its disk.
        yield (
            "TRDFLOW_CODEC_KEYS: not set; production never reads or creates the dev key file "
            f"{settings.codec_key_file}"
        )
        return
    keys = configured_keys(settings)
    for problem in key_problems(keys, None):
        yield f"TRDFLOW_CODEC_KEYS: {problem}"
    if settings.codec_active_key is not None and settings.codec_active_key not in keys:
        yield f"TRDFLOW_CODEC_ACTIVE_KEY: {settings.codec_active_key!r} is not a key id listed"


def _database(settings: Settings) -> Iterator[str]:
    if settings.database_url is None:
        yield "DATABASE_URL: not set; production has no embedded PostgreSQL"
    elif problem := unverified_transport(settings.database_url):
        yield f"DATABASE_URL: {problem}"


def _temporal(settings: Settings, env: Mapping[str, str] | None) -> Iterator[str]:
    try:
        config = temporal_connect_config(settings, env)
    except TemporalConfigError as err:
        yield str(err)
        return
    yield from temporal_transport_problems(config)


def _webhooks(settings: Settings) -> Iterator[str]:
    if settings.pager_provider == "outbox":
        yield (
            "TRDFLOW_PAGER_PROVIDER: outbox keeps pages in the database, where no one on call "
            "sees them; set pagerduty"
        )
    elif settings.pagerduty_webhook_secret is None:
        yield (
            "PAGERDUTY_WEBHOOK_SECRET: not set, with TRDFLOW_PAGER_PROVIDER=pagerduty; the "
            "pager webhook (acknowledgements from PagerDuty) would refuse every call"
        )
    if settings.sms_provider == "twilio" and settings.twilio_auth_token is None:
        yield (
            "TWILIO_AUTH_TOKEN: not set, with TRDFLOW_SMS_PROVIDER=twilio; texts cannot be sent "
            "and the inbound-SMS webhook (drivers' replies) would refuse every call"
        )
    if not _https(settings.public_url):
        # Webhook signatures are computed over it, and the console's cookie is Secure by it.
        yield (
            "TRDFLOW_PUBLIC_URL: must be the API's https:// URL as callers see it (webhook "
            "signatures are computed over it)"
        )


def _providers(settings: Settings) -> Iterator[str]:
    if settings.sms_provider == "twilio":
        if settings.twilio_account_sid is None:
            yield "TWILIO_ACCOUNT_SID: not set, with TRDFLOW_SMS_PROVIDER=twilio"
        if settings.twilio_from_number is None:
            yield "TWILIO_FROM_NUMBER: not set, with TRDFLOW_SMS_PROVIDER=twilio"
        if not _https(settings.twilio_api_base):
            yield "TWILIO_API_BASE: must be an https:// URL"
    if settings.email_provider == "smtp" and settings.smtp_from is None:
        # The SMTP adapter itself always requires TLS (STARTTLS, or implicit on port 465).
        yield "SMTP_FROM: not set, with TRDFLOW_EMAIL_PROVIDER=smtp"
    if settings.rems_provider == "portal":
        if not _https(settings.rems_portal_url):
            yield "REMS_PORTAL_URL: must be an https:// URL, with TRDFLOW_REMS_PROVIDER=portal"
        if settings.rems_portal_token is None:
            yield "REMS_PORTAL_TOKEN: not set, with TRDFLOW_REMS_PROVIDER=portal"
    if settings.pager_provider == "pagerduty" and not _https(settings.pagerduty_events_base):
        yield "PAGERDUTY_EVENTS_BASE: must be an https:// URL"
    if settings.oidc_issuer is not None:
        if not _https(settings.oidc_issuer):
            yield "TRDFLOW_OIDC_ISSUER: must be an https:// URL (ID tokens are fetched from it)"
        if settings.oidc_client_id is None:
            yield "TRDFLOW_OIDC_CLIENT_ID: not set, with TRDFLOW_OIDC_ISSUER"


def _dev_switches(settings: Settings) -> Iterator[str]:
    if settings.allow_simulation:
        yield (
            "TRDFLOW_ALLOW_SIMULATION: must be off; a compressed clock shortens monitoring and "
            "the REMS deadlines"
        )
    if settings.codec_local_ui:
        yield (
            "TRDFLOW_CODEC_LOCAL_UI: must be off; it lets the codec server decrypt PHI for "
            "callers without a token"
        )


def _https(url: str | None) -> bool:
    if url is None:
        return False
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.hostname)
