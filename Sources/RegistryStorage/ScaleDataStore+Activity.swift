import Foundation
import Logging
import PostgresNIO

extension ScaleDataStore {
    /// What the database needs to know about a batch of new workers to generate their activity,
    /// passed as arrays (one element per worker): the generating statements read no table, so
    /// their plans do not depend on statistics of tables that are still being loaded.
    public struct ActivityInput: Sendable {
        public var workers: [UUID] = []
        /// Service categories, comma-separated.
        public var categories: [String] = []
        public var firstStart: [String] = []
        public var currentAgency: [UUID] = []
        public var currentStaff: [UUID] = []
        public var currentTenure: [UUID] = []
        public var currentStart: [String] = []
        public var currentAgencyName: [String] = []
        /// For workers who moved: the first agency and the day its tenure ended ("" when she did not move).
        public var previousAgency: [UUID] = []
        public var previousStaff: [UUID] = []
        public var previousEnd: [String] = []
        public var certificateTitle: [String] = []

        public init() {}
    }

    /// The texts the generated reviews and replies are drawn from, by the reviewer's impression.
    public struct ReviewTexts: Sendable {
        public var good: [String]
        public var plain: [String]
        public var poor: [String]
        public var replies: [String]

        public init(good: [String], plain: [String], poor: [String], replies: [String]) {
            self.good = good
            self.plain = plain
            self.poor = poor
            self.replies = replies
        }
    }

    /// `reviewsPerWorker` engagements per worker, each with its verified review (and a few
    /// replies), spread from her first start to `today` (ISO date). Employers are drawn from the
    /// set's `employers` (ids md5(seedText || ':e:' || n)); a `benchShare` of the current
    /// engagements go to the first `benchEmployers`. Returns the rows written per table.
    public static func insertEngagements(
        _ a: ActivityInput,
        reviewsPerWorker r: Int,
        today: String,
        seedText: String,
        employers: Int,
        benchEmployers benchK: Int,
        benchShare: Double,
        texts: ReviewTexts,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> (engagements: Int, reviews: Int, replies: Int) {
        var counts = (engagements: 0, reviews: 0, replies: 0)
        let rows = try await connection.query(
            """
            WITH ws AS (
                SELECT worker_id, string_to_array(cats, ',') AS cats, first_start::date AS first_start, cur_agency, cur_staff,
                       prev_agency, prev_staff, nullif(prev_end, '')::date AS prev_end,
                       CASE WHEN random() < 0.04 THEN 1.8 + random() * 1.2 ELSE 3.5 + random() * 1.5 END AS q
                FROM unnest(\(a.workers)::uuid[], \(a.categories)::text[], \(a.firstStart)::text[], \(a.currentAgency)::uuid[],
                            \(a.currentStaff)::uuid[], \(a.previousAgency)::uuid[], \(a.previousStaff)::uuid[], \(a.previousEnd)::text[])
                    AS u(worker_id, cats, first_start, cur_agency, cur_staff, prev_agency, prev_staff, prev_end)
            ), e AS (
                SELECT gen_random_uuid() AS id, gen_random_uuid() AS review_id, worker_id, q, first_start, slot, prev_agency, prev_staff,
                       prev_end, cur_agency, cur_staff, cats[1 + floor(random() * cardinality(cats))::int] AS category,
                       least(\(today)::date, first_start + (k - 1) * slot + floor(random() * slot * 0.2)::int) AS starts_on,
                       CASE WHEN k = \(r)::int AND random() < 0.3 THEN 'confirmed' ELSE 'ended' END AS state,
                       random() AS length, random() AS reply
                FROM (SELECT ws.*, k, greatest(1, (\(today)::date - first_start) / \(r)::int) AS slot
                      FROM ws CROSS JOIN generate_series(1, \(r)::int) AS k) AS p
            ), e2 AS MATERIALIZED (
                SELECT e.*,
                       CASE WHEN state = 'ended' THEN least(\(today)::date, starts_on + greatest(1, floor(slot * (0.5 + length * 0.4))::int)) END AS ends_on,
                       CASE WHEN prev_end IS NOT NULL AND starts_on < prev_end THEN prev_agency ELSE cur_agency END AS agency_id,
                       CASE WHEN prev_end IS NOT NULL AND starts_on < prev_end THEN prev_staff ELSE cur_staff END AS staff_id,
                       md5(\(seedText) || ':e:' || CASE WHEN state = 'confirmed' AND random() < \(benchShare)
                                                      THEN 1 + floor(random() * \(benchK))::int
                                                      ELSE 1 + floor(random() * \(employers))::int END)::uuid AS employer_id
                FROM e
            ), timed AS MATERIALIZED (
                SELECT e2.*,
                       least(now() - interval '1 hour',
                             (CASE WHEN state = 'ended' THEN ends_on + 1 + floor(random() * 5)::int
                                   ELSE starts_on + greatest(1, (\(today)::date - starts_on) / 2) END + time '20:00')::timestamptz) AS reviewed_at
                FROM e2
            ), ins_e AS (
                INSERT INTO engagements (id, worker_id, agency_id, employer_id, category, starts_on, ends_on, status, created_at, created_by,
                                         confirmed_at, confirmed_via, ended_at, ended_by)
                SELECT id, worker_id, agency_id, employer_id, category, starts_on, ends_on, state, greatest(first_start, starts_on - 3) + time '10:00',
                       staff_id, greatest(first_start, starts_on - 2) + time '19:00', 'verified_phone',
                       CASE WHEN state = 'ended' THEN ends_on + time '18:00' END,
                       CASE WHEN state = 'ended' THEN employer_id END
                FROM timed
                RETURNING 1
            ), scored AS (
                SELECT timed.*,
                       CASE WHEN category IN ('nanny', 'maternity') THEN 'childcare'
                            WHEN category IN ('elder_care', 'patient_care') THEN 'eldercare' ELSE 'cooking' END AS craft,
                       least(5, greatest(1, round(q + random() * 1.6 - 0.8)))::int AS punctuality,
                       least(5, greatest(1, round(q + random() * 1.6 - 0.8)))::int AS quality,
                       least(5, greatest(1, round(q + random() * 1.6 - 0.8)))::int AS craft_score,
                       least(5, greatest(1, round(q + 0.2 + random() * 1.2 - 0.6)))::int AS honesty,
                       least(5, greatest(1, round(q + 0.2 + random() * 1.2 - 0.6)))::int AS respect,
                       least(5, greatest(1, round(q + 0.2 + random() * 1.2 - 0.6)))::int AS reliability,
                       least(5, greatest(1, round(q + 0.2 + random() * 1.2 - 0.6)))::int AS care
                FROM timed
            ), ins_r AS (
                INSERT INTO reviews (id, engagement_id, worker_id, employer_id, category, skill_scores, ethics_scores, skill_dimensions,
                                     skill_values, ethics_dimensions, ethics_values, comment, created_at)
                SELECT review_id, id, worker_id, employer_id, category,
                       jsonb_build_object('punctuality', punctuality, 'quality', quality, craft, craft_score),
                       jsonb_build_object('honesty', honesty, 'respect', respect, 'reliability', reliability, 'care', care),
                       ARRAY[craft, 'punctuality', 'quality'], ARRAY[craft_score, punctuality, quality],
                       ARRAY['care', 'honesty', 'reliability', 'respect'], ARRAY[care, honesty, reliability, respect],
                       CASE WHEN random() < 0.45 THEN NULL
                            WHEN q >= 4.2 THEN (\(texts.good)::text[])[1 + floor(random() * \(texts.good.count))::int]
                            WHEN q >= 3.2 THEN (\(texts.plain)::text[])[1 + floor(random() * \(texts.plain.count))::int]
                            ELSE (\(texts.poor)::text[])[1 + floor(random() * \(texts.poor.count))::int] END,
                       reviewed_at
                FROM scored
                RETURNING 1
            ), ins_reply AS (
                INSERT INTO review_replies (review_id, worker_id, body, created_at)
                SELECT review_id, worker_id, (\(texts.replies)::text[])[1 + floor(random() * \(texts.replies.count))::int], reviewed_at + interval '1 day'
                FROM timed WHERE reply < 0.03 AND reviewed_at + interval '1 day' < now()
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM ins_e), (SELECT count(*) FROM ins_r), (SELECT count(*) FROM ins_reply)
            """,
            logger: logger
        )
        for try await (engagements, reviews, replies) in rows.decode((Int64, Int64, Int64).self) {
            counts.engagements = Int(engagements)
            counts.reviews = Int(reviews)
            counts.replies = Int(replies)
        }
        return counts
    }

    /// Skill assessments, certificates, trainings and health certificates of a batch of new
    /// workers, dated between each one's current start and `today` (ISO date). Returns the rows
    /// written: skill assessments, trainings (certificates and courses), health certificates.
    public static func insertQualifications(
        _ a: ActivityInput,
        today: String,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> (skills: Int, trainings: Int, health: Int) {
        var counts = (skills: 0, trainings: 0, health: 0)
        let rows = try await connection.query(
            """
            WITH ws AS MATERIALIZED (
                SELECT worker_id, string_to_array(cats, ',') AS cats, tenure_id, agency_id, started_on::date AS started_on, agency_name, staff_id, title
                FROM unnest(\(a.workers)::uuid[], \(a.categories)::text[], \(a.currentTenure)::uuid[], \(a.currentAgency)::uuid[],
                            \(a.currentStart)::text[], \(a.currentAgencyName)::text[], \(a.currentStaff)::uuid[], \(a.certificateTitle)::text[])
                    AS u(worker_id, cats, tenure_id, agency_id, started_on, agency_name, staff_id, title)
            ), skills AS (
                INSERT INTO skill_assessments (worker_id, tenure_id, agency_id, category, level, assessed_on, assessor, created_at, created_by)
                SELECT worker_id, tenure_id, agency_id, c,
                       CASE WHEN lv < 0.15 THEN 1 WHEN lv < 0.5 THEN 2 WHEN lv < 0.8 THEN 3 WHEN lv < 0.95 THEN 4 ELSE 5 END,
                       d, '职业技能鉴定中心', least(now(), (d + time '16:00')::timestamptz), staff_id
                FROM ws CROSS JOIN LATERAL (
                    SELECT c, random() AS lv, ws.started_on + floor(random() * greatest(1, \(today)::date - ws.started_on))::int AS d
                    FROM unnest(ws.cats) AS c) AS x
                RETURNING 1
            ), certificates AS (
                INSERT INTO trainings (worker_id, tenure_id, agency_id, kind, title, issuer, category, certificate_no, issued_on, expires_on,
                                       created_at, created_by)
                SELECT worker_id, tenure_id, agency_id, 'certificate', title, '人力资源和社会保障局', cats[1],
                       'HR' || to_char(d, 'YYYY') || lpad(floor(random() * 1000000)::int::text, 6, '0'), d,
                       CASE WHEN random() < 0.4 THEN d + 1095 END, least(now(), (greatest(d, started_on) + time '11:00')::timestamptz), staff_id
                FROM (SELECT ws.*, ws.started_on - floor(random() * 720)::int AS d FROM ws) AS q
                RETURNING 1
            ), courses AS (
                INSERT INTO trainings (worker_id, tenure_id, agency_id, kind, title, issuer, category, issued_on, hours, created_at, created_by)
                SELECT worker_id, tenure_id, agency_id, 'training', '岗前培训与职业道德', agency_name || '培训部', cats[1], d,
                       40 + floor(random() * 80)::int, least(now(), (d + time '17:00')::timestamptz), staff_id
                FROM (SELECT ws.*, least(\(today)::date, ws.started_on + floor(random() * 30)::int) AS d, random() AS pick FROM ws) AS q
                WHERE pick < 0.5
                RETURNING 1
            ), health AS (
                INSERT INTO health_certificates (worker_id, tenure_id, agency_id, issuer, issued_on, valid_until, result, created_at, created_by)
                SELECT worker_id, tenure_id, agency_id, '市疾病预防控制中心', d, d + 365,
                       CASE WHEN pick < 0.02 THEN 'restricted' ELSE 'fit' END, least(now(), (d + time '15:00')::timestamptz), staff_id
                FROM (SELECT ws.*, greatest(ws.started_on, \(today)::date - floor(random() * 540)::int) AS d, random() AS pick FROM ws) AS q
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM skills), (SELECT count(*) FROM certificates) + (SELECT count(*) FROM courses), (SELECT count(*) FROM health)
            """,
            logger: logger
        )
        for try await (skills, trainings, health) in rows.decode((Int64, Int64, Int64).self) {
            counts.skills = Int(skills)
            counts.trainings = Int(trainings)
            counts.health = Int(health)
        }
        return counts
    }
}
