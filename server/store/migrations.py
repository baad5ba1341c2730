"""Schema migrations, applied in order at start; each runs once (recorded in schema_migrations).

Every table is tenant-scoped from the start: no query reads a row without its tenant_id.
"""

from __future__ import annotations

# Version 3 added scopes (machine clients, client grants, roles). Admin tokens stored before it
# (every scope of the time: `serve`'s and `tenants create`'s) get them too, so an upgraded
# server's admin token can manage what the new version serves; narrower tokens stay as they were.
SCOPES_BEFORE_3 = ("read:actions", "create:actions", "update:actions", "delete:actions",
                   "read:users", "update:users", "create:users", "execute:triggers")
SCOPES_ADDED_IN_3 = ("read:clients", "create:clients", "update:clients", "delete:clients",
                     "read:client_grants", "update:client_grants",
                     "read:roles", "create:roles", "update:roles", "delete:roles")
ADMIN_SCOPES_3 = (
    f"UPDATE tokens SET scopes = scopes || ' {' '.join(SCOPES_ADDED_IN_3)}' WHERE "
    + " AND ".join(f"(' ' || scopes || ' ') LIKE '% {scope} %'" for scope in SCOPES_BEFORE_3) + ";\n")

MIGRATIONS: list[tuple[int, str]] = [
    (1, """
    CREATE TABLE tenants (
        id          TEXT PRIMARY KEY,
        created_at  TEXT NOT NULL
    );
    CREATE TABLE tokens (
        id          TEXT PRIMARY KEY,
        tenant_id   TEXT NOT NULL REFERENCES tenants(id),
        token_hash  TEXT NOT NULL UNIQUE,
        scopes      TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        created_at  TEXT NOT NULL
    );
    CREATE TABLE actions (
        tenant_id          TEXT NOT NULL REFERENCES tenants(id),
        id                 TEXT NOT NULL,
        name               TEXT NOT NULL,
        supported_triggers TEXT NOT NULL,
        code               TEXT NOT NULL,
        dependencies       TEXT NOT NULL,
        runtime            TEXT NOT NULL,
        secrets            TEXT NOT NULL,
        status             TEXT NOT NULL,
        errors             TEXT NOT NULL DEFAULT '[]',
        created_at         TEXT NOT NULL,
        updated_at         TEXT NOT NULL,
        built_at           TEXT,
        deployed_version_id TEXT,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, name)
    );
    CREATE TABLE action_versions (
        tenant_id          TEXT NOT NULL,
        id                 TEXT NOT NULL,
        action_id          TEXT NOT NULL,
        number             INTEGER NOT NULL,
        code               TEXT NOT NULL,
        dependencies       TEXT NOT NULL,
        runtime            TEXT NOT NULL,
        secrets            TEXT NOT NULL,
        supported_triggers TEXT NOT NULL,
        status             TEXT NOT NULL,
        errors             TEXT NOT NULL DEFAULT '[]',
        created_at         TEXT NOT NULL,
        updated_at         TEXT NOT NULL,
        built_at           TEXT,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, action_id, number)
    );
    CREATE TABLE bindings (
        tenant_id    TEXT NOT NULL,
        id           TEXT NOT NULL,
        trigger_id   TEXT NOT NULL,
        action_id    TEXT NOT NULL,
        position     INTEGER NOT NULL,
        display_name TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX bindings_by_trigger ON bindings (tenant_id, trigger_id, position);
    CREATE TABLE executions (
        tenant_id   TEXT NOT NULL,
        id          TEXT NOT NULL,
        trigger_id  TEXT NOT NULL,
        status      TEXT NOT NULL,
        results     TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX executions_by_age ON executions (created_at);
    CREATE TABLE users (
        tenant_id     TEXT NOT NULL,
        user_id       TEXT NOT NULL,
        profile       TEXT NOT NULL,
        app_metadata  TEXT NOT NULL,
        user_metadata TEXT NOT NULL,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        PRIMARY KEY (tenant_id, user_id)
    );
    """),
    (2, """
    CREATE TABLE redirect_states (
        tenant_id    TEXT NOT NULL,
        state        TEXT NOT NULL,
        trigger_id   TEXT NOT NULL,
        execution_id TEXT NOT NULL,
        flow_key     TEXT NOT NULL,
        resume_index INTEGER NOT NULL,
        saved        TEXT NOT NULL,
        expires_at   REAL NOT NULL,
        used         INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant_id, state)
    );
    CREATE INDEX redirect_states_by_expiry ON redirect_states (expires_at);
    """),
    (3, """
    CREATE TABLE machine_clients (
        client_id   TEXT PRIMARY KEY,
        tenant_id   TEXT NOT NULL REFERENCES tenants(id),
        name        TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        secret_hash TEXT NOT NULL,
        scopes      TEXT NOT NULL,
        grant_id    TEXT NOT NULL UNIQUE,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX machine_clients_by_tenant ON machine_clients (tenant_id, created_at, client_id);
    CREATE TABLE signing_keys (
        kid         TEXT PRIMARY KEY,
        status      TEXT NOT NULL,
        private_key TEXT NOT NULL,
        public_jwk  TEXT NOT NULL,
        created_at  TEXT NOT NULL
    );
    CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (status) WHERE status = 'current';
    CREATE TABLE roles (
        tenant_id   TEXT NOT NULL REFERENCES tenants(id),
        id          TEXT NOT NULL,
        name        TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        created_at  TEXT NOT NULL,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, name)
    );
    CREATE TABLE user_roles (
        tenant_id  TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        role_id    TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (tenant_id, user_id, role_id)
    );
    CREATE INDEX user_roles_by_role ON user_roles (tenant_id, role_id);
    """ + ADMIN_SCOPES_3),
    # npm dependencies (server/npm/): the resolved tree an action's draft and each version were
    # built with, and the tarballs it names, so that every node of a deployment (and this one
    # after its package cache is gone) unpacks the same files without asking a registry
    (4, """
    ALTER TABLE actions ADD COLUMN tree TEXT;
    ALTER TABLE action_versions ADD COLUMN tree TEXT;
    CREATE TABLE npm_tarballs (
        tenant_id  TEXT NOT NULL REFERENCES tenants(id),
        key        TEXT NOT NULL,
        data       BLOB NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (tenant_id, key)
    );
    """),
]
