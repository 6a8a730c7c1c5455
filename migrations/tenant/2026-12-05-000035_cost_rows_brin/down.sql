DROP INDEX cost_rows_charged;
DROP INDEX cost_rows_import;
ALTER TABLE cost_rows ADD PRIMARY KEY (import_id, line);
ALTER TABLE cost_rows ADD FOREIGN KEY (import_id) REFERENCES cost_imports (id) ON DELETE CASCADE;
