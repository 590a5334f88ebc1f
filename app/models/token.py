"""API tokens. Only a hash of each secret is stored."""

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, String
from sqlmodel import Field, SQLModel

from app.models import base as _base  # noqa: F401  (naming convention first)
from app.models.enums import Role, sql_in
from app.models.types import UTCDateTime, utcnow


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"
    __table_args__ = (CheckConstraint(sql_in("role", Role), name="role_vocabulary"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    role: Role = Field(sa_column=Column(String(16), nullable=False))
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    scopes: list[str] | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True),
        description="MANDATE, MANDATE:LINE or MANDATE:MEASURE; null: every mandate")
    person: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True),
        description="The person the token speaks for, as plans name owners")
