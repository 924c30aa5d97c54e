-- Writes through the API (OGC API - Features Part 4) are audited per feature, with the row
-- before and after (as GeoJSON), in the same transaction as the write.
ALTER TABLE bando.audit
    ADD COLUMN feature_id bigint,
    ADD COLUMN before jsonb,
    ADD COLUMN after jsonb;
CREATE INDEX audit_feature ON bando.audit (target, feature_id) WHERE feature_id IS NOT NULL;
