-- What an import found in the text fields: those converted from a legacy Vietnamese encoding
-- (TCVN3, VNI, Windows-1258) and those whose encoding it could not decide.
ALTER TABLE bando.import_log ADD COLUMN text_fields jsonb NOT NULL DEFAULT '[]';
