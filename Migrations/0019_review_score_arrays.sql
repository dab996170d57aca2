-- What the grader reads of a review, on the review's own row:
-- 1. its scores as arrays beside the jsonb objects: each side's dimension names in name order and
--    their scores in the same order (no JSON to parse for millions of reviews); the review pages,
--    the API and the report still read the jsonb objects. Every writer fills both in the same
--    statement.
-- 2. the engagement's service category (never changed once the engagement exists), so that the
--    grader reads a worker's reviews without a lookup into engagements for each one.
ALTER TABLE reviews
    ADD COLUMN category          text,
    ADD COLUMN skill_dimensions  text[],
    ADD COLUMN skill_values      integer[],
    ADD COLUMN ethics_dimensions text[],
    ADD COLUMN ethics_values     integer[];

-- Existing rows. An object with a value that is not a whole number was read as no scores at all
-- by the grader; it stays that way. A whole number too large for an integer is kept as 0: the
-- grader ignores any score outside 1-5 alike.
UPDATE reviews r SET
    category = e.category,
    (skill_dimensions, skill_values) = (
        SELECT coalesce(array_agg(key ORDER BY key), '{}'), coalesce(array_agg(CASE WHEN value::text ~ '^-?[0-9]{1,9}$' THEN value::text::integer ELSE 0 END ORDER BY key), '{}')
        FROM jsonb_each(skill_scores)
        HAVING bool_and(jsonb_typeof(value) = 'number' AND value::text ~ '^-?[0-9]+$') IS NOT FALSE
    ),
    (ethics_dimensions, ethics_values) = (
        SELECT coalesce(array_agg(key ORDER BY key), '{}'), coalesce(array_agg(CASE WHEN value::text ~ '^-?[0-9]{1,9}$' THEN value::text::integer ELSE 0 END ORDER BY key), '{}')
        FROM jsonb_each(ethics_scores)
        HAVING bool_and(jsonb_typeof(value) = 'number' AND value::text ~ '^-?[0-9]+$') IS NOT FALSE
    )
FROM engagements e
WHERE e.id = r.engagement_id;
UPDATE reviews SET skill_dimensions = '{}', skill_values = '{}' WHERE skill_dimensions IS NULL;
UPDATE reviews SET ethics_dimensions = '{}', ethics_values = '{}' WHERE ethics_dimensions IS NULL;

ALTER TABLE reviews
    ALTER COLUMN category SET NOT NULL,
    ALTER COLUMN skill_dimensions SET NOT NULL,
    ALTER COLUMN skill_values SET NOT NULL,
    ALTER COLUMN ethics_dimensions SET NOT NULL,
    ALTER COLUMN ethics_values SET NOT NULL,
    ADD CONSTRAINT reviews_skill_arrays_match CHECK (cardinality(skill_dimensions) = cardinality(skill_values)),
    ADD CONSTRAINT reviews_ethics_arrays_match CHECK (cardinality(ethics_dimensions) = cardinality(ethics_values));

-- The grader reads a worker's visible reviews from this index alone (an index-only scan: her
-- entries lie together, no lookup into the table nor into engagements).
CREATE INDEX reviews_grading_idx ON reviews (worker_id)
    INCLUDE (created_at, category, skill_dimensions, skill_values, ethics_dimensions, ethics_values) WHERE hidden_at IS NULL;
