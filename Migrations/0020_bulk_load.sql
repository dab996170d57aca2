-- Loading a generated data set into an empty registry (`registry demo --workers N`): the foreign
-- keys and the plain (non-unique) indexes of the tables it fills are set aside during the load and
-- rebuilt once after it, each checked or built in one pass over the table instead of once per row.
-- What was set aside is written here first, so that a load that stops half way is completed by the
-- next `registry demo` (which restores before anything else) and nothing is ever silently lost.
CREATE TABLE bulk_load_suspended (
    position    serial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('foreign_key', 'index')),
    table_name  text NOT NULL,
    name        text NOT NULL,
    definition  text NOT NULL,
    suspended_at timestamptz NOT NULL DEFAULT now()
);

-- Sets aside the foreign keys of the tables a worker's file fills and their indexes that enforce
-- nothing (not unique, not a primary key, not behind a constraint). Returns how many. It runs with
-- the owner's rights for the service's role (which cannot alter tables), only for this fixed list of
-- tables and only while the registry holds no worker: it cannot weaken a registry in use.
CREATE FUNCTION bulk_load_suspend() RETURNS int LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    tables text[] := ARRAY['tenures', 'transfers', 'engagements', 'reviews', 'review_replies', 'skill_assessments', 'trainings',
                           'health_certificates'];
    r record;
    n int := 0;
BEGIN
    IF EXISTS (SELECT 1 FROM workers) THEN
        RAISE EXCEPTION 'the registry holds workers: keys and indexes are set aside only to load an empty registry';
    END IF;
    FOR r IN
        SELECT c.conrelid::regclass::text AS t, c.conname AS name, pg_get_constraintdef(c.oid) AS def
        FROM pg_constraint c
        WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY (tables)
        ORDER BY 1, 2
    LOOP
        INSERT INTO bulk_load_suspended (kind, table_name, name, definition) VALUES ('foreign_key', r.t, r.name, r.def);
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.t, r.name);
        n := n + 1;
    END LOOP;
    FOR r IN
        SELECT i.indrelid::regclass::text AS t, i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
        FROM pg_index i
        WHERE i.indrelid::regclass::text = ANY (tables) AND NOT i.indisunique AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
        ORDER BY 1, 2
    LOOP
        INSERT INTO bulk_load_suspended (kind, table_name, name, definition) VALUES ('index', r.t, r.name, r.def);
        EXECUTE format('DROP INDEX %s', r.name);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

-- Rebuilds everything set aside: the indexes, then the foreign keys (each validated by one join).
-- Returns how many.
CREATE FUNCTION bulk_load_restore() RETURNS int LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r record;
    n int := 0;
BEGIN
    FOR r IN SELECT * FROM bulk_load_suspended WHERE kind = 'index' ORDER BY position LOOP
        EXECUTE r.definition;
        n := n + 1;
    END LOOP;
    FOR r IN SELECT * FROM bulk_load_suspended WHERE kind = 'foreign_key' ORDER BY position LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', r.table_name, r.name, r.definition);
        n := n + 1;
    END LOOP;
    DELETE FROM bulk_load_suspended;
    RETURN n;
END
$$;

REVOKE ALL ON FUNCTION bulk_load_suspend(), bulk_load_restore() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bulk_load_suspend(), bulk_load_restore() TO registry_app;
-- The service may see what is set aside (nothing, but during a load); only the functions change it.
GRANT SELECT ON bulk_load_suspended TO registry_app;
