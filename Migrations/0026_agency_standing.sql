-- 0026: the agency's public standing. Its placements (engagements a household confirmed) are
-- counted as they happen, so that every report and the public agency page read one row instead
-- of counting; agency_standing() is the one definition of what they show: the level and points
-- in force of its demerits (0025), and its placements.
ALTER TABLE agencies ADD COLUMN placements int NOT NULL DEFAULT 0 CHECK (placements >= 0);
UPDATE agencies a SET placements = (
    SELECT count(*) FROM engagements e WHERE e.agency_id = a.id AND e.status IN ('confirmed', 'ended') AND e.confirmed_at IS NOT NULL
);

CREATE FUNCTION count_placement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.confirmed_at IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.confirmed_at IS NULL) THEN
        UPDATE agencies SET placements = placements + 1 WHERE id = NEW.agency_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER engagements_count_placement AFTER INSERT OR UPDATE OF confirmed_at ON engagements
    FOR EACH ROW EXECUTE FUNCTION count_placement();

CREATE FUNCTION agency_standing(p_agency uuid) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'agency_id', a.id, 'name', a.name, 'level', a.demerit_level, 'placements', a.placements,
        'points', (SELECT coalesce(sum(d.points), 0) FROM agency_demerits d
                   WHERE d.agency_id = a.id AND d.state = 'upheld' AND d.expires_at > now()))
    FROM agencies a WHERE a.id = p_agency
$$;
