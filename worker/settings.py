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
    model_config = SettingsConfigDict(validate_by_name=True, validate_by_alias=True, frozen=True)

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
    codec_server_port: int = Field(8081, ge=1, le=65535, alias="TRDFLOW_CODEC_SERVER_PORT")
    ui_origin: str = Field(
        "http://localhost:8233",
        alias="TRDFLOW_UI_ORIGIN",
        description="Origin of the Temporal Web UI, allowed by the codec server's CORS.",
    )
    log_level: LogLevel = Field("INFO", alias="TRDFLOW_LOG_LEVEL")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def codec_key_file(self) -> Path:
        return self.state_dir / "codec-keys.json"


@cache
def get_settings() -> Settings:
    return Settings()
