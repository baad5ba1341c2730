"""PostgreSQL schema migrations: the same tables and columns as the SQLite ones
(server/store/migrations.py), in PostgreSQL's types. Applied in order at start, each once
(recorded in schema_migrations), all under one advisory lock (see postgres.PostgresStore).

Types: JSON columns are jsonb (the profile merge-patch is done inside PostgreSQL, see
profiles/postgres_profiles.py); times are timestamptz, written from and read back as the API's
ISO-8601 UTC millisecond strings ('2026-01-02T03:04:05.678Z'); a redirect state's expires_at
stays Unix seconds (double precision) as in SQLite. Keys that are ordered for paging use the
"C" collation, so that ties sort byte-wise as SQLite sorts them.

A new migration is appended here AND in migrations.py, with the same number, so both
backends keep the same schema.
"""

from __future__ import annotations

from .migrations import ADMIN_SCOPES_3

MIGRATIONS: list[tuple[int, str]] = [
    (1, """
    CREATE TABLE tenants (
        id          text PRIMARY KEY,
        created_at  timestamptz NOT NULL
    );
    CREATE TABLE tokens (
        id          text PRIMARY KEY,
        tenant_id   text NOT NULL REFERENCES tenants(id),
        token_hash  text NOT NULL UNIQUE,
        scopes      text NOT NULL,
        description text NOT NULL DEFAULT '',
        created_at  timestamptz NOT NULL
    );
    CREATE INDEX tokens_by_tenant ON tokens (tenant_id);
    CREATE TABLE actions (
        tenant_id          text NOT NULL REFERENCES tenants(id),
        id                 text COLLATE "C" NOT NULL,
        name               text NOT NULL,
        supported_triggers jsonb NOT NULL,
        code               text NOT NULL,
        dependencies       jsonb NOT NULL,
        runtime            text NOT NULL,
        secrets            jsonb NOT NULL,
        status             text NOT NULL,
        errors             jsonb NOT NULL DEFAULT '[]',
        created_at         timestamptz NOT NULL,
        updated_at         timestamptz NOT NULL,
        built_at           timestamptz,
        deployed_version_id text,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, name)
    );
    CREATE INDEX actions_by_age ON actions (tenant_id, created_at, id);
    CREATE TABLE action_versions (
        tenant_id          text NOT NULL,
        id                 text NOT NULL,
        action_id          text NOT NULL,
        number             integer NOT NULL,
        code               text NOT NULL,
        dependencies       jsonb NOT NULL,
        runtime            text NOT NULL,
        secrets            jsonb NOT NULL,
        supported_triggers jsonb NOT NULL,
        status             text NOT NULL,
        errors             jsonb NOT NULL DEFAULT '[]',
        created_at         timestamptz NOT NULL,
        updated_at         timestamptz NOT NULL,
        built_at           timestamptz,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, action_id, number)
    );
    CREATE TABLE bindings (
        tenant_id    text NOT NULL,
        id           text NOT NULL,
        trigger_id   text NOT NULL,
        action_id    text NOT NULL,
        position     integer NOT NULL,
        display_name text NOT NULL,
        created_at   timestamptz NOT NULL,
        updated_at   timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX bindings_by_trigger ON bindings (tenant_id, trigger_id, position);
    CREATE INDEX bindings_by_action ON bindings (tenant_id, action_id);
    CREATE TABLE executions (
        tenant_id   text NOT NULL,
        id          text NOT NULL,
        trigger_id  text NOT NULL,
        status      text NOT NULL,
        results     jsonb NOT NULL,
        created_at  timestamptz NOT NULL,
        updated_at  timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX executions_by_age ON executions (created_at);
    CREATE TABLE users (
        tenant_id     text NOT NULL,
        user_id       text NOT NULL,
        profile       jsonb NOT NULL,
        app_metadata  jsonb NOT NULL,
        user_metadata jsonb NOT NULL,
        created_at    timestamptz NOT NULL,
        updated_at    timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, user_id)
    );
    """),
    (2, """
    CREATE TABLE redirect_states (
        tenant_id    text NOT NULL,
        state        text NOT NULL,
        trigger_id   text NOT NULL,
        execution_id text NOT NULL,
        flow_key     text NOT NULL,
        resume_index integer NOT NULL,
        saved        jsonb NOT NULL,
        expires_at   double precision NOT NULL,
        used         integer NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant_id, state)
    );
    CREATE INDEX redirect_states_by_expiry ON redirect_states (expires_at);
    """),
    (3, """
    CREATE TABLE machine_clients (
        client_id   text PRIMARY KEY,
        tenant_id   text NOT NULL REFERENCES tenants(id),
        name        text NOT NULL,
        description text NOT NULL DEFAULT '',
        secret_hash text NOT NULL,
        scopes      text NOT NULL,
        grant_id    text NOT NULL UNIQUE,
        created_at  timestamptz NOT NULL,
        updated_at  timestamptz NOT NULL
    );
    CREATE INDEX machine_clients_by_tenant ON machine_clients (tenant_id, created_at, client_id);
    CREATE TABLE signing_keys (
        kid         text PRIMARY KEY,
        status      text NOT NULL,
        private_key text NOT NULL,
        public_jwk  jsonb NOT NULL,
        created_at  timestamptz NOT NULL
    );
    CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (status) WHERE status = 'current';
    CREATE TABLE roles (
        tenant_id   text NOT NULL REFERENCES tenants(id),
        id          text COLLATE "C" NOT NULL,
        name        text NOT NULL,
        description text NOT NULL DEFAULT '',
        created_at  timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, name)
    );
    CREATE TABLE user_roles (
        tenant_id  text NOT NULL,
        user_id    text NOT NULL,
        role_id    text NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, user_id, role_id)
    );
    CREATE INDEX user_roles_by_role ON user_roles (tenant_id, role_id);
    """ + ADMIN_SCOPES_3),
    # npm dependencies: as migrations.py's 4
    (4, """
    ALTER TABLE actions ADD COLUMN tree jsonb;
    ALTER TABLE action_versions ADD COLUMN tree jsonb;
    CREATE TABLE npm_tarballs (
        tenant_id  text NOT NULL REFERENCES tenants(id),
        key        text NOT NULL,
        data       bytea NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, key)
    );
    """),
]
