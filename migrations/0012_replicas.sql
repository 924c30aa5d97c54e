-- The servers that follow the change log, each with how far it has applied it, so that an
-- operator sees every replica's lag in one place. A server writes its own row about once a
-- second while it runs (one row per server, updated in place: the table stays as small as the
-- number of servers); rows of servers gone for a week are deleted when the log is pruned.
CREATE TABLE bando.replicas (
    name         text PRIMARY KEY,
    started_at   timestamptz NOT NULL,
    seen_at      timestamptz NOT NULL,
    -- Every change up to (position_tx, position_seq) is applied; `beyond` changes after it too.
    position_tx  bigint NOT NULL,
    position_seq bigint NOT NULL,
    beyond       bigint NOT NULL,
    -- When the log last held nothing this server had not applied.
    caught_up_at timestamptz NOT NULL,
    applied      bigint NOT NULL,
    reloads      bigint NOT NULL
);
