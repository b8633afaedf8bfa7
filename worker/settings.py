"""Process settings, read from environment variables."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

DEFAULT_TEMPORAL_ADDRESS = "localhost:7233"


class Settings(BaseSettings):
    """One place for every knob; the env var names are the contract (see the aliases)."""

    # Aliases are the env var names; by-name lets tests write Settings(state_dir=...).
    # Errors never quote their input: it may be a token or a key.
    model_config = SettingsConfigDict(
        validate_by_name=True, validate_by_alias=True, frozen=True, hide_input_in_errors=True
    )

    temporal_address: str = Field(DEFAULT_TEMPORAL_ADDRESS, alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field("default", alias="TEMPORAL_NAMESPACE")
    database_url: str | None = Field(
        None,
        alias="DATABASE_URL",
        description="None: use the local stack's embedded PostgreSQL.",
    )
    state_dir: Path = Field(Path("./state"), alias="TRDFLOW_STATE_DIR")
    codec_keys: dict[str, SecretStr] | None = Field(
        None,
        alias="TRDFLOW_CODEC_KEYS",
        description=(
            'JSON object {"key id": "base64 of 32 bytes"}, oldest first. '
            "None: use (or create) the dev key file <state>/codec-keys.json."
        ),
    )
    codec_active_key: str | None = Field(
        None,
        alias="TRDFLOW_CODEC_ACTIVE_KEY",
        description="Key id that encrypts new payloads. None: the last (newest) key listed.",
    )
    allow_simulation: bool = Field(
        False,
        alias="TRDFLOW_ALLOW_SIMULATION",
        description="Accept courses with a time_scale other than 1 (demos, load tests).",
    )
    database_role: str | None = Field(
        None,
        alias="TRDFLOW_DATABASE_ROLE",
        description=(
            "The role the API, the workers and the codec server act as in PostgreSQL: "
            "trdflow_app (store.db.APP_ROLE) may append to the audit log but never change it. "
            "None: the connecting user's own."
        ),
    )
    oidc_issuer: str | None = Field(
        None,
        alias="TRDFLOW_OIDC_ISSUER",
        description=(
            "The identity provider's issuer URL: staff sign in to the console through it "
            "(OpenID Connect, code flow with PKCE). None: token sign-in only."
        ),
    )
    oidc_client_id: str | None = Field(None, alias="TRDFLOW_OIDC_CLIENT_ID")
    oidc_client_secret: SecretStr | None = Field(
        None,
        alias="TRDFLOW_OIDC_CLIENT_SECRET",
        description="For a confidential client (client_secret_basic); None: a public client.",
    )
    oidc_roles_claim: str = Field("trdflow_roles", alias="TRDFLOW_OIDC_ROLES_CLAIM")
    oidc_clinics_claim: str = Field("trdflow_clinics", alias="TRDFLOW_OIDC_CLINICS_CLAIM")
    cli_token: SecretStr | None = Field(
        None,
        alias="TRDFLOW_TOKEN",
        description=(
            "The command line's caller: clinic events sent with `trdflow` act as this token's "
            "holder, within its roles and clinics, and are audited as theirs."
        ),
    )
    environment: Literal["development", "production"] = Field(
        "development",
        alias="TRDFLOW_ENV",
        description=(
            "production: fail closed. Every secret must be set (no dev files), and the codec "
            "refuses unencrypted payloads."
        ),
    )
    codec_server_host: str = Field(
        "127.0.0.1",
        alias="TRDFLOW_CODEC_SERVER_HOST",
        description="Interface the codec server listens on: loopback unless deployed.",
    )
    codec_server_port: int = Field(8081, ge=1, le=65535, alias="TRDFLOW_CODEC_SERVER_PORT")
    codec_allowed_hosts: list[str] = Field(
        ["localhost", "127.0.0.1"],
        alias="TRDFLOW_CODEC_ALLOWED_HOSTS",
        description="Host headers the codec server answers (a DNS-rebinding page sends its own).",
    )
    codec_local_ui: bool = Field(
        False,
        alias="TRDFLOW_CODEC_LOCAL_UI",
        description=(
            "The local stack's Temporal UI sends no credentials: serve its requests without a "
            "token, from loopback only, audited as the operator 'local-ui'. Never in production."
        ),
    )
    ui_origin: str = Field(
        "http://localhost:8233",
        alias="TRDFLOW_UI_ORIGIN",
        description="Origin of the Temporal Web UI, allowed by the codec server's CORS.",
    )
    api_host: str = Field(
        "127.0.0.1",
        alias="TRDFLOW_API_HOST",
        description="Interface the HTTP API listens on (0.0.0.0 behind a deployment's proxy).",
    )
    api_port: int = Field(8000, ge=1, le=65535, alias="TRDFLOW_API_PORT")
    public_url: str | None = Field(
        None,
        alias="TRDFLOW_PUBLIC_URL",
        description=(
            "The API's URL as callers see it (behind a proxy), e.g. https://clinic.example; "
            "webhook signatures are computed over it. None: the URL the request arrived at."
        ),
    )
    twilio_auth_token: SecretStr | None = Field(
        None,
        alias="TWILIO_AUTH_TOKEN",
        description="Verifies inbound-SMS webhook signatures. None: the webhook refuses all.",
    )
    # Providers. "outbox" (the default) keeps messages and forms in the outbox table: offline.
    sms_provider: Literal["outbox", "twilio"] = Field("outbox", alias="TRDFLOW_SMS_PROVIDER")
    twilio_account_sid: str | None = Field(None, alias="TWILIO_ACCOUNT_SID")
    twilio_from_number: str | None = Field(None, alias="TWILIO_FROM_NUMBER")
    twilio_api_base: str = Field("https://api.twilio.com", alias="TWILIO_API_BASE")
    email_provider: Literal["outbox", "smtp"] = Field("outbox", alias="TRDFLOW_EMAIL_PROVIDER")
    smtp_host: str = Field("localhost", alias="SMTP_HOST")
    smtp_port: int = Field(587, ge=1, le=65535, alias="SMTP_PORT")
    smtp_from: str | None = Field(None, alias="SMTP_FROM")
    smtp_username: str | None = Field(None, alias="SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(None, alias="SMTP_PASSWORD")
    rems_provider: Literal["outbox", "portal"] = Field("outbox", alias="TRDFLOW_REMS_PROVIDER")
    rems_portal_url: str | None = Field(None, alias="REMS_PORTAL_URL")
    rems_portal_token: SecretStr | None = Field(None, alias="REMS_PORTAL_TOKEN")
    worker_cache_size: int = Field(1000, ge=0, alias="TRDFLOW_WORKER_CACHE_SIZE")
    """Workflows the worker keeps cached (1000 is the SDK's default); the fault run sets it
    tiny, so that most tasks replay their history first, as after a crash."""
    worker_identity: str | None = Field(
        None,
        alias="TRDFLOW_WORKER_IDENTITY",
        description=(
            "The worker's identity in Temporal (histories, task queue pollers) and in its logs. "
            "None: the SDK's `<pid>@<host>` (on Kubernetes, the pod's name is the host)."
        ),
    )
    worker_health_host: str = Field("127.0.0.1", alias="TRDFLOW_WORKER_HEALTH_HOST")
    worker_health_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        alias="TRDFLOW_WORKER_HEALTH_PORT",
        description=(
            "Where the worker answers /healthz, /readyz and /metrics (the clinic's metrics its "
            "activities count). None: no endpoint."
        ),
    )
    worker_sdk_metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        alias="TRDFLOW_WORKER_SDK_METRICS_PORT",
        description=(
            "Where the Temporal SDK's runtime serves its own metrics (/metrics: task slots, "
            "poll and task latencies), on TRDFLOW_WORKER_HEALTH_HOST. None: not served."
        ),
    )
    worker_shutdown_grace_seconds: float = Field(
        10.0,
        ge=0,
        alias="TRDFLOW_WORKER_SHUTDOWN_GRACE_SECONDS",
        description=(
            "On SIGTERM the worker stops taking tasks and gives running activities this long to "
            "finish; those still running are cancelled and retried on another worker."
        ),
    )
    pager_provider: Literal["outbox", "pagerduty"] = Field("outbox", alias="TRDFLOW_PAGER_PROVIDER")
    pagerduty_events_base: str = Field(
        "https://events.pagerduty.com", alias="PAGERDUTY_EVENTS_BASE"
    )
    pagerduty_webhook_secret: SecretStr | None = Field(
        None,
        alias="PAGERDUTY_WEBHOOK_SECRET",
        description="Verifies the pager webhook's signatures. None: the webhook refuses all.",
    )
    log_level: LogLevel = Field("INFO", alias="TRDFLOW_LOG_LEVEL")
    otlp_endpoint: str | None = Field(
        None,
        alias="OTEL_EXPORTER_OTLP_ENDPOINT",
        description=(
            "An OpenTelemetry collector's OTLP/HTTP base URL (traces go to <url>/v1/traces). "
            "None: spans stay in the process."
        ),
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def codec_key_file(self) -> Path:
        return self.state_dir / "codec-keys.json"

    @property
    def api_token_file(self) -> Path:
        """The local stack's dev tokens, issued by `make run` (owner-only)."""
        return self.state_dir / "api-tokens.json"

    @property
    def postgres_dir(self) -> Path:
        """The local stack's embedded PostgreSQL (data dir and socket)."""
        return self.state_dir / "postgres"

    def database_url_or_local(self) -> str:
        """DATABASE_URL, else the local stack's embedded PostgreSQL (for CLI commands)."""
        if self.database_url is not None:
            return self.database_url
        return f"postgresql://postgres:@/trdflow?host={self.postgres_dir.resolve()}"


@cache
def get_settings() -> Settings:
    return Settings()
