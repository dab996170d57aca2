import Foundation
import Logging
import PostgresNIO

extension ScaleDataStore {
    /// Approved agencies, one per element of the arrays (all of the same length), decided by `decidedBy`.
    /// `applied` holds ISO dates.
    public static func insertAgencies(
        ids: [UUID],
        names: [String],
        usccs: [String],
        regions: [String],
        contactNames: [String],
        contactPhones: [String],
        contactEmails: [String],
        applied: [String],
        decidedBy adminID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO agencies (id, name, uscc, region_code, contact_name, contact_phone, contact_email, status, applied_at, decided_at, decided_by)
            SELECT id, name, uscc, region, contact, phone, email, 'approved', applied::date + time '10:00', applied::date + 3 + time '15:00', \(adminID)
            FROM unnest(\(ids)::uuid[], \(names)::text[],
                        \(usccs)::text[], \(regions)::text[], \(contactNames)::text[], \(contactPhones)::text[],
                        \(contactEmails)::text[], \(applied)::text[])
                AS a(id, name, uscc, region, contact, phone, email, applied)
            """,
            logger: logger
        )
    }

    /// Active agency staff with a password, one per element of the arrays; `created` holds ISO dates.
    public static func insertStaff(
        ids: [UUID],
        emails: [String],
        names: [String],
        passwordHashes: [String],
        agencies: [UUID],
        created: [String],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO users (id, role, email, display_name, password_hash, status, agency_id, created_at, password_changed_at)
            SELECT id, 'agency_staff', email, name, hash, 'active', agency, created::date + time '10:00', created::date + time '10:00'
            FROM unnest(\(ids)::uuid[], \(emails)::text[], \(names)::text[], \(passwordHashes)::text[], \(agencies)::uuid[],
                        \(created)::text[]) AS s(id, email, name, hash, agency, created)
            """,
            logger: logger
        )
    }

    /// The credit commitments in force, as if signed with each application and accepted at each
    /// staff member's first sign-in: the agency's by its legal representative (recorded by its
    /// contact), and every staff member's own.
    public static func insertCommitments(
        agencies: [UUID],
        contacts: [UUID],
        representatives: [String],
        staff: [UUID],
        staffAgencies: [UUID],
        versions: (agency: String, staff: String),
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO credit_commitments (kind, version, agency_id, user_id, representative, accepted_at)
            SELECT 'agency', \(versions.agency), a.id, a.contact, a.rep, u.created_at
            FROM unnest(\(agencies)::uuid[], \(contacts)::uuid[], \(representatives)::text[]) AS a(id, contact, rep)
            JOIN users u ON u.id = a.contact
            UNION ALL
            SELECT 'staff', \(versions.staff), s.agency, s.id, NULL, u.created_at
            FROM unnest(\(staff)::uuid[], \(staffAgencies)::uuid[]) AS s(id, agency)
            JOIN users u ON u.id = s.id
            """,
            logger: logger
        )
    }

    /// Employers 1…`passwordHashes.count` of a set, who sign in with e-mail and a password, in one
    /// transaction. Ids are md5(seedText || ':e:' || n); phones are `phonePrefix` and n on 7 digits.
    public static func insertEmployersWithPassword(
        passwordHashes: [String],
        seedText: String,
        tag: String,
        phonePrefix: String,
        region: String,
        surnames: [String],
        database: Database,
        logger: Logger
    ) async throws {
        let k = passwordHashes.count
        try await database.transaction(logger: logger) { connection in
            _ = try await connection.query(
                """
                INSERT INTO users (id, role, email, phone, display_name, password_hash, status, household_name, region_code, created_at,
                                   password_changed_at, phone_verified_at)
                SELECT md5(\(seedText) || ':e:' || n)::uuid, 'employer', 'employer' || n || \(tag) || '@scale.demo.local',
                       \(phonePrefix) || lpad(n::text, 7, '0'), s || '女士', hash, 'active', s || '女士家', \(region),
                       now() - interval '400 days', now() - interval '400 days', now() - interval '400 days'
                FROM (SELECT n, hash, (\(surnames)::text[])[1 + (n % \(surnames.count))::int] AS s
                      FROM unnest(\((0..<k).map { $0 + 1 })::int8[], \(passwordHashes)::text[]) AS u(n, hash)) AS e
                """,
                logger: logger
            )
        }
    }

    /// Employers `lo`…`hi` of a set, without a password, generated by the database in one
    /// transaction: random surnames and regions, ids md5(seedText || ':e:' || n).
    public static func insertEmployers(
        _ lo: Int,
        through hi: Int,
        seedText: String,
        phonePrefix: String,
        surnames: [String],
        regions: [String],
        database: Database,
        logger: Logger
    ) async throws {
        try await database.transaction(logger: logger) { connection in
            _ = try await connection.query(
                """
                INSERT INTO users (id, role, phone, display_name, status, household_name, region_code, created_at, phone_verified_at)
                SELECT md5(\(seedText) || ':e:' || n)::uuid, 'employer', \(phonePrefix) || lpad(n::text, 7, '0'),
                       s || t, 'active', s || t || '家', (\(regions)::text[])[1 + floor(random() * \(regions.count))::int],
                       created, created
                FROM (SELECT n, s, t, now() - make_interval(days => floor(random() * 3000)::int, mins => floor(random() * 1440)::int) AS created
                      FROM (SELECT n, (\(surnames)::text[])[1 + floor(random() * \(surnames.count))::int] AS s,
                                   CASE WHEN n % 3 = 0 THEN '先生' ELSE '女士' END AS t
                            FROM generate_series(\(lo), \(hi)) AS n) AS x) AS e
                """,
                logger: logger
            )
        }
    }

    /// Accounts (sign-in by phone) of workers, one per element of the arrays, in one transaction.
    public static func insertWorkerAccounts(
        workers: [UUID],
        phones: [String],
        names: [String],
        passwordHashes: [String],
        database: Database,
        logger: Logger
    ) async throws {
        try await database.transaction(logger: logger) { connection in
            _ = try await connection.query(
                """
                INSERT INTO users (role, phone, display_name, password_hash, status, worker_id, created_at, password_changed_at)
                SELECT 'worker', phone, name, hash, 'active', worker, now() - interval '30 days', now() - interval '30 days'
                FROM unnest(\(workers)::uuid[], \(phones)::text[], \(names)::text[],
                            \(passwordHashes)::text[]) AS u(worker, phone, name, hash)
                """,
                logger: logger
            )
        }
    }
}
