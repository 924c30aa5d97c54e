-- Rows an import rejected (a value that does not fit its column, a NOT NULL or CHECK the table
-- enforces, a duplicate key), with row number, field, value and reason: the first 100 of them.
ALTER TABLE bando.import_log ADD COLUMN rejected_rows jsonb NOT NULL DEFAULT '[]';
