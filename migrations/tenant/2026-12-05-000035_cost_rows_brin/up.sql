-- Runs with the tenant's schema alone on the search path: never qualify names here.
--
-- Cost rows are only ever read by import (stage, commit, replace, discard) or all at once
-- (allocation, top resources): a B-tree over (import_id, line) cost a quarter of every
-- import's insert time and served no lookup. The reader numbers lines itself, so they stay
-- unique without it. Imports append their rows together and their ids are time-ordered
-- (UUIDv7): a BRIN index finds an import's rows for the price of a few pages. The foreign key
-- to cost_imports went too: its check ran a trigger and an index probe per row, and rows are
-- only written under the import they are staged for (imports are never deleted; a refused or
-- abandoned import's rows are deleted by its id).
ALTER TABLE cost_rows DROP CONSTRAINT cost_rows_pkey;
ALTER TABLE cost_rows DROP CONSTRAINT cost_rows_import_id_fkey;
CREATE INDEX cost_rows_import ON cost_rows USING brin (import_id) WITH (pages_per_range = 32);
-- The allocation page and rule previews read the last 30 days of rows: bills list their
-- charges in time order, so a BRIN index over the charge start narrows that to a month's pages
-- for as little as the import id's (and costs nothing but a slower read when they do not).
CREATE INDEX cost_rows_charged ON cost_rows USING brin (charge_period_start) WITH (pages_per_range = 32);
