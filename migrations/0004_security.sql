-- API keys and the audit trail (DESIGN.md, data and security).

-- Keys are stored as the SHA-256 of the whole key; the key itself is shown once, at creation.
CREATE TABLE bando.api_keys (
    id          text PRIMARY KEY,
    role        text NOT NULL,
    hash        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- A running `bando serve` reloads its keys when they change, as it reloads layers.
SELECT bando.watch_table('bando.api_keys');

-- Append-only: who did what, when, from where. Reads of restricted layers and every write.
CREATE TABLE bando.audit (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    who     text NOT NULL,
    role    text,
    action  text NOT NULL,
    target  text NOT NULL,
    client  text,
    detail  text
);

CREATE FUNCTION bando.audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'bando.audit is append-only';
END
$$;

CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON bando.audit
    FOR EACH ROW EXECUTE FUNCTION bando.audit_is_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON bando.audit
    FOR EACH STATEMENT EXECUTE FUNCTION bando.audit_is_append_only();
