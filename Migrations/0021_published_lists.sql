-- 0021: the published blacklist (黑名单) and the red list (红名单).
--
-- 1. Every case gets a public reference number, shown on the published blacklist beside a ban
--    (RC-<year>-<number>); existing cases are numbered in the order they were made.
ALTER TABLE cases ADD COLUMN public_no bigint;
CREATE SEQUENCE cases_public_no_seq OWNED BY cases.public_no;
UPDATE cases c SET public_no = n.no
FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS no FROM cases) n
WHERE n.id = c.id;
SELECT setval('cases_public_no_seq', coalesce((SELECT max(public_no) FROM cases), 0) + 1, false);
ALTER TABLE cases
    ALTER COLUMN public_no SET DEFAULT nextval('cases_public_no_seq'),
    ALTER COLUMN public_no SET NOT NULL;
CREATE UNIQUE INDEX cases_public_no_idx ON cases (public_no);
GRANT USAGE, SELECT ON SEQUENCE cases_public_no_seq TO registry_app;

-- 2. The blacklist is the bans in force, newest first, read a page at a time.
CREATE INDEX bans_in_force_idx ON bans (executed_at DESC, id) WHERE lifted_at IS NULL;

-- 3. The red list: a worker opts in (or out) herself; the grade history says since when she
--    holds the top grade.
ALTER TABLE workers ADD COLUMN red_list_opt_in boolean NOT NULL DEFAULT false;

-- The day her current grade letter began (the registry's day, China time): the red list asks
-- for the top grade held for a policy-set period. Existing grades: the last change to that
-- letter in the history, else the day of the grade.
ALTER TABLE grades ADD COLUMN grade_since date;
UPDATE grades g SET grade_since = coalesce(
    (SELECT (max(h.changed_at) AT TIME ZONE 'Asia/Shanghai')::date FROM grade_history h
     WHERE h.worker_id = g.worker_id AND h.to_grade = g.grade),
    g.as_of);
ALTER TABLE grades
    ALTER COLUMN grade_since SET DEFAULT ((now() AT TIME ZONE 'Asia/Shanghai')::date),
    ALTER COLUMN grade_since SET NOT NULL;
CREATE INDEX grades_top_since_idx ON grades (grade_since, worker_id) WHERE grade = 'A';
