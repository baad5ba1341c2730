"""Typed application keys: every shared resource has one owner (app.py) and one lifetime."""

from __future__ import annotations

from aiohttp import web

from sandbox import Sandbox

from ..access_tokens import Keyring
from ..actions.service import ActionService
from ..auth import TokenStore
from ..flows.login_roles import LoginRoles
from ..flows.trigger_runner import TriggerRunner
from ..machine_clients import ClientDirectory
from ..profiles.writer import ProfileWriter, WriteLimiter
from ..profiles.sqlite_profiles import SqliteProfiles
from ..settings import Settings
from ..store.repository import Repository
from ..store.roles import SqliteRoles

SETTINGS = web.AppKey("settings", Settings)
SANDBOX = web.AppKey("sandbox", Sandbox)
REPOSITORY = web.AppKey("repository", Repository)
ACTIONS = web.AppKey("actions", ActionService)
PROFILES = web.AppKey("profiles", SqliteProfiles)
TOKENS = web.AppKey("tokens", TokenStore)
TRIGGERS = web.AppKey("triggers", TriggerRunner)
WRITER = web.AppKey("writer", ProfileWriter)
LIMITER = web.AppKey("limiter", WriteLimiter)
CLIENTS = web.AppKey("clients", ClientDirectory)
KEYRING = web.AppKey("keyring", Keyring)
ROLES = web.AppKey("roles", SqliteRoles)
LOGIN_ROLES = web.AppKey("login_roles", LoginRoles)
