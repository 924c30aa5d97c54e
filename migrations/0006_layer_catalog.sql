-- A layer's temporal property: NULL takes its first date or date-time column, '' none at all.
ALTER TABLE bando.layers ADD COLUMN temporal text;

-- Catalog edits (`bando layers set`, an import that creates a layer) reach running servers at
-- once, through the change feed. Only the columns people edit: the version bump that every
-- data change makes (bando.layer_changed) must not re-read the catalog.
CREATE FUNCTION bando.catalog_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bando_changes', 'bando.layers');
    RETURN NULL;
END $$;

CREATE TRIGGER bando_catalog_changed
    AFTER INSERT OR DELETE OR UPDATE OF title, description, access, temporal ON bando.layers
    FOR EACH STATEMENT EXECUTE FUNCTION bando.catalog_changed();
