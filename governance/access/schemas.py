"""Request and response models of the access API (they also produce its OpenAPI description)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from governance.api import StrictModel


class SubjectPath(BaseModel):
    subject_id: uuid.UUID


class StaffPath(BaseModel):
    staff_id: uuid.UUID


class ClientPath(BaseModel):
    client_id: str = Field(max_length=64)


class DashboardLinkOut(BaseModel):
    url: str = Field(description="one-time link; opens the subject's dashboard once, within expires_in seconds")
    expires_in: int


class StaffIn(StrictModel):
    username: str = Field(min_length=2, max_length=63)
    password: str = Field(min_length=1, max_length=1024)
    roles: list[str] = Field(min_length=1, description="admin, dpo, support, auditor")


class StaffOut(BaseModel):
    id: uuid.UUID
    roles: list[str]


class StaffItem(BaseModel):
    id: uuid.UUID
    username: str
    roles: list[str]
    active: bool
    second_factor: bool
    sso: bool = Field(description="signs in through single sign-on only (its local password is refused)")
    locked: bool
    last_login_at: str | None


class StaffList(BaseModel):
    items: list[StaffItem]


class PasswordResetOut(BaseModel):
    temporary_password: str = Field(description="shown once; the person must choose a new one at sign-in")
    must_change_password: bool


class DeactivatedOut(BaseModel):
    id: str
    active: bool


class ClientIn(StrictModel):
    name: str = Field(min_length=1, max_length=120)
    scopes: list[str] = Field(min_length=1)
    purposes: list[str] = Field(default_factory=list, description="processing purposes (model services)")


class ClientOut(BaseModel):
    client_id: str
    client_secret: str = Field(description="shown once, stored only as a hash")
    scopes: list[str]
    purposes: list[str]


class ClientItem(BaseModel):
    client_id: str
    name: str
    scopes: list[str]
    purposes: list[str]
    active: bool


class ClientList(BaseModel):
    items: list[ClientItem]


class ClientDeactivatedOut(BaseModel):
    client_id: str
    active: bool
    tokens_revoked: int


class BreakGlassItem(BaseModel):
    id: uuid.UUID
    actor: str
    resource: str
    reason: str
    at: str


class BreakGlassList(BaseModel):
    items: list[BreakGlassItem]


class PolicyRule(BaseModel):
    id: str
    file: str
    line: int


class PolicyOut(BaseModel):
    version: str
    actions: list[str]
    rules: list[PolicyRule]
