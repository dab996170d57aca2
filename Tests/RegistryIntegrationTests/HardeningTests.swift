import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresNIO
import RegistryDomain
import RegistrySecurity
import RegistryServices
import RegistryStorage
import Testing

@testable import RegistryHTTP

/// What a hostile client, agency or insider could do (issue "Hardening"): each test here failed
/// on the code before its fix.
@Suite("Hardening")
struct HardeningTests {
    static let forbiddenInText: [(String, String)] = [
        ("NUL", "\u{0}"), ("BEL", "\u{7}"), ("ESC", "\u{1B}"), ("DEL", "\u{7F}"), ("NEL (C1)", "\u{85}"), ("CSI (C1)", "\u{9B}"),
        ("right-to-left override", "\u{202E}"), ("left-to-right embedding", "\u{202A}"), ("first strong isolate", "\u{2068}"),
    ]

    @Test("a flag narrative with a control character or a bidi override is refused naming the field")
    func narrativeRefusesControls() async throws {
        try await withTestRegistry { registry, _ in
            let (sourceID, _, _, police) = try await registry.source("police-t", kind: "police")
            for (name, character) in Self.forbiddenInText {
                var item = flag(Fixtures.idNumber(serial: 300), "T-\(name.count)")
                item.narrative = "通报 \(character) 内容"
                let result = try await registry.flags.submit([item], sourceID: sourceID, caller: police, logger: testLogger)
                #expect(result.first?.outcome == .rejected && result.first?.field == "narrative", "\(name): \(result)")
            }
            #expect(try await registry.count("SELECT count(*)::int FROM flags WHERE source_id = $1", sourceID) == 0)
        }
    }

    @Test("names refuse bidi overrides and invisible format characters; free text refuses controls and overrides")
    func namesAndTextRefuseInvisibles() async throws {
        try await withTestRegistry { registry, _ in
            let (_, agency) = try await registry.approvedAgency(1)
            let invisible = ["\u{202E}", "\u{200B}", "\u{200D}", "\u{FEFF}", "\u{00AD}", "\u{2028}", "\t"]
            for (i, character) in invisible.enumerated() {
                let input = Fixtures.registration(Fixtures.idNumber(serial: 400 + 2 * i), name: "李\(character)秀英")
                let error = await #expect(throws: RegistryError.self) {
                    _ = try await registry.workers.register(input, caller: agency, logger: testLogger)
                }
                #expect(
                    error?.field == "full_name" && error?.code == "invalid_characters",
                    "\(character.debugDescription): \(String(describing: error))"
                )
                let household = await #expect(throws: RegistryError.self) {
                    _ = try await registry.accounts.registerEmployer(
                        .init(
                            email: "h\(i)@example.cn",
                            phone: nil,
                            password: "employer password",
                            householdName: "张\(character)家",
                            regionCode: "320102"
                        ),
                        caller: .system,
                        logger: testLogger
                    )
                }
                #expect(household?.field == "household_name", "\(character.debugDescription)")
            }
            let override = await #expect(throws: RegistryError.self) {
                _ = try await registry.agencies.apply(
                    .init(
                        name: "好\u{202E}家政",
                        uscc: Fixtures.uscc(77),
                        regionCode: "320102",
                        contactName: "王",
                        contactPhone: nil,
                        contactEmail: "x@agency.cn",
                        password: "agency password 77",
                        representative: "法定代表人",
                        commitmentVersion: registry.policies.commitments.agency.version
                    ),
                    caller: .system,
                    logger: testLogger
                )
            }
            #expect(override?.field == "name" && override?.code == "invalid_characters")
            #expect(try await registry.count("SELECT count(*)::int FROM workers WHERE current_agency_id = $1", try #require(agency.agencyUUID)) == 0)
            // Free text (a case's statement) refuses controls and overrides before anything is looked up.
            for (name, character) in Self.forbiddenInText {
                let error = await #expect(throws: RegistryError.self, "\(name)") {
                    _ = try await registry.cases.file(
                        .init(workerId: UUID(), grounds: "theft", statement: "丢失\(character)现金"),
                        caller: agency,
                        logger: testLogger
                    )
                }
                #expect(error?.code == "invalid_characters" && error?.field == "statement", "\(name): \(String(describing: error))")
            }
        }
    }

    @Test("a batch with schema-invalid items rejects only those items, naming the field and keeping the reference")
    func batchRejectsOnlyBadItems() async throws {
        try await withTestApp { registry, _, client in
            let (_, agency) = try await registry.approvedAgency(1)
            let id = Fixtures.idNumber(serial: 310)
            _ = try await registry.workers.register(Fixtures.registration(id), caller: agency, logger: testLogger)
            let (_, key, _, _) = try await registry.source("police-b", kind: "police")
            let good: [String: Any] = [
                "id_number": id, "reference": "B-1", "category": "theft", "severity": 3, "status": "charged",
                "occurred_on": "2025-01-01",
            ]
            var noReference = good
            noReference["reference"] = nil
            var textSeverity = good
            textSeverity["reference"] = "B-3"
            textSeverity["severity"] = "3"
            let body = try JSONSerialization.data(withJSONObject: ["flags": [good, noReference, textSeverity, "not an object"]])
            let r = try await client.execute(
                uri: "/api/v1/flags:batch",
                method: .post,
                headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
                body: ByteBuffer(bytes: body)
            )
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            let result = TestJSON.object(r.body)
            #expect(result["created"] as? Int == 1 && result["rejected"] as? Int == 3, "\(result)")
            let items = result["items"] as? [[String: Any]] ?? []
            #expect(items.count == 4)
            if items.count == 4 {
                #expect(items[0]["outcome"] as? String == "created")
                #expect(items[1]["outcome"] as? String == "rejected" && items[1]["field"] as? String == "reference")
                #expect(
                    items[2]["outcome"] as? String == "rejected" && items[2]["field"] as? String == "severity"
                        && items[2]["reference"] as? String == "B-3"
                )
                #expect(items[3]["outcome"] as? String == "rejected")
            }
        }
    }

    @Test("phone numbers are one number however they are typed: +86, 0086, spaces and dashes")
    func phonesNormalised() async throws {
        #expect(Contact.normalizedPhone("+86 138 0013 8001") == "13800138001")
        #expect(Contact.normalizedPhone("0086-138-0013-8001") == "13800138001")
        #expect(Contact.normalizedPhone("8613800138001") == "13800138001")
        #expect(Contact.normalizedPhone("(138) 0013.8001") == "13800138001")
        #expect(Contact.normalizedPhone("+44 20 7946 0958") == "+442079460958")
        #expect(Contact.normalizedPhone("+86 21 1234 5678") == "+862112345678")
        #expect(Contact.normalizedPhone("12ab") == nil)
        try await withTestRegistry { registry, _ in
            // A household registered as +86 … signs in with the national number, and cannot register it twice.
            _ = try await registry.accounts.registerEmployer(
                .init(email: nil, phone: "+86 139 0000 0001", password: "employer password", householdName: "陈家", regionCode: "320102"),
                caller: .system,
                logger: testLogger
            )
            let user = try await registry.database.withConnection { connection in
                try await AccountStore.find(email: nil, phone: "13900000001", on: connection, logger: testLogger)
            }
            #expect(user != nil)
        }
    }

    @Test("a rejected application frees its unified social credit code for the company's own application")
    func rejectedApplicationFreesCode() async throws {
        try await withTestRegistry { registry, _ in
            let admin = try await registry.adminCaller
            func apply(_ email: String) async throws -> AgencyID {
                try await registry.agencies.apply(
                    .init(
                        name: "好帮手家政",
                        uscc: Fixtures.uscc(91),
                        regionCode: "320102",
                        contactName: "王",
                        contactPhone: nil,
                        contactEmail: email,
                        password: "agency password 91",
                        representative: "法定代表人",
                        commitmentVersion: registry.policies.commitments.agency.version
                    ),
                    caller: .system,
                    logger: testLogger
                ).0
            }
            let squatter = try await apply("squatter@example.cn")
            let pending = await #expect(throws: RegistryError.self) { _ = try await apply("owner@example.cn") }
            #expect(pending?.code == "agency_exists")
            _ = try await registry.agencies.decide(squatter, .reject, reason: "不是该公司", caller: admin, logger: testLogger)
            let owner = try await apply("owner@example.cn")
            #expect(owner != squatter)
            // Approved, it holds the code again.
            _ = try await registry.agencies.decide(owner, .approve, reason: nil, caller: admin, logger: testLogger)
            let third = await #expect(throws: RegistryError.self) { _ = try await apply("third@example.cn") }
            #expect(third?.code == "agency_exists")
        }
    }

    /// Signs in over the API and returns the session token.
    func signIn(_ client: any TestClientProtocol, _ email: String, _ password: String) async throws -> String {
        let r = try await client.execute(
            uri: "/api/v1/auth/login",
            method: .post,
            headers: [.contentType: "application/json"],
            body: TestJSON.body(["email": email, "password": password])
        )
        return try #require(TestJSON.object(r.body)["token"] as? String, "\(String(buffer: r.body))")
    }

    @Test("CSRF is decided on the matched route: //api/v1/... with a session cookie and no token is refused")
    func csrfOnMatchedRoute() async throws {
        try await withTestApp { registry, _, client in
            _ = try await registry.makeUser(email: "admin@example.cn", password: "admin password")
            let token = try await signIn(client, "admin@example.cn", "admin password")
            let cookie: HTTPFields = [.cookie: "registry_session=\(token)", .contentType: "application/json"]
            for path in ["//api/v1/auth/logout", "/api//v1/auth/logout", "/api/v1/auth/logout/"] {
                let r = try await client.execute(uri: path, method: .post, headers: cookie)
                #expect(r.status == .forbidden && TestJSON.errorCode(r.body) == "csrf_failed", "\(path): \(r.status)")
            }
            // The session survived every attempt.
            #expect(try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: cookie).status == .ok)
        }
    }

    @Test("a JSON route refuses a body that is not declared JSON (415) and changes nothing")
    func jsonNeedsItsMediaType() async throws {
        try await withTestApp { registry, _, client in
            _ = try await registry.approvedAgency(1)
            let token = try await signIn(client, "staff1@agency.cn", "agency password 1")
            let body = TestJSON.body([
                "id_number": Fixtures.idNumber(serial: 320), "full_name": "李秀英", "sex": "F",
                "home_region": "320102", "service_categories": ["nanny"],
            ])
            let before = try await registry.fingerprint()
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", nil] as [String?] {
                var headers: HTTPFields = [.authorization: "Bearer \(token)"]
                if let type { headers[.contentType] = type }
                let r = try await client.execute(uri: "/api/v1/workers", method: .post, headers: headers, body: body)
                #expect(r.status == .unsupportedMediaType && TestJSON.errorCode(r.body) == "unsupported_media_type", "\(type ?? "none")")
            }
            #expect(changedTables(before, try await registry.fingerprint()) == [])
            let ok = try await client.execute(
                uri: "/api/v1/workers",
                method: .post,
                headers: [.authorization: "Bearer \(token)", .contentType: "application/json; charset=utf-8"],
                body: body
            )
            #expect(ok.status == .created)
            let rows = try await registry.database.query("SELECT count(*)::int FROM workers", logger: testLogger)
            #expect(try await single(rows, Int.self) == 1)
        }
    }

    @Test("a session unused for longer than the idle limit ends; one in use is kept alive")
    func idleSessionsEnd() async throws {
        try await withTestApp { registry, endpoint, client in
            _ = try await registry.makeUser(email: "admin@example.cn", password: "admin password")
            let idle = try await signIn(client, "admin@example.cn", "admin password")
            let used = try await signIn(client, "admin@example.cn", "admin password")
            let minutes = registry.policies.authentication.sessionIdleMinutes
            try await asOwner(endpoint) { owner in
                try await owner.query("UPDATE sessions SET last_seen_at = now() - make_interval(mins => \(Int32(minutes + 1)))", logger: testLogger)
            }
            // One minute short of the limit: still alive, and the use moves its mark.
            try await asOwner(endpoint) { owner in
                try await owner.query(
                    """
                    UPDATE sessions SET last_seen_at = now() - make_interval(mins => \(Int32(minutes - 1)))
                    WHERE token_hash = \(Data(TokenGenerator.hash(used)))
                    """,
                    logger: testLogger
                )
            }
            #expect(
                try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: [.authorization: "Bearer \(idle)"]).status == .unauthorized
            )
            #expect(try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: [.authorization: "Bearer \(used)"]).status == .ok)
            let rows = try await registry.database.query(
                """
                SELECT (last_seen_at > now() - interval '1 minute') FROM sessions WHERE token_hash = \(Data(TokenGenerator.hash(used)))
                """,
                logger: testLogger
            )
            #expect(try await single(rows, Bool.self))
        }
    }

    @Test("with secure cookies: the session cookie is __Host- prefixed and Secure, and HSTS is sent")
    func secureCookiesUseHostPrefix() async throws {
        try await withTestApp(configure: { $0.secureCookies = true }) { registry, _, client in
            _ = try await registry.makeUser(email: "admin@example.cn", password: "admin password")
            let live = try await client.execute(uri: "/health/live", method: .get)
            #expect(live.headers[HTTPField.Name("Strict-Transport-Security")!]?.hasPrefix("max-age=") == true)
            let token = try await signIn(client, "admin@example.cn", "admin password")
            #expect(
                try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: [.cookie: "__Host-registry_session=\(token)"]).status == .ok
            )
            // The unprefixed name, which a sibling host or plain HTTP could set, is not read.
            #expect(
                try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: [.cookie: "registry_session=\(token)"]).status
                    == .unauthorized
            )
            let out = try await client.execute(uri: "/api/v1/auth/logout", method: .post, headers: [.authorization: "Bearer \(token)"])
            let cookie = try #require(out.headers[.setCookie])
            #expect(
                cookie.hasPrefix("__Host-registry_session=") && cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain")
            )
        }
        try await withTestApp { _, _, client in
            let live = try await client.execute(uri: "/health/live", method: .get)
            #expect(live.headers[HTTPField.Name("Strict-Transport-Security")!] == nil)
        }
    }

    @Test("REGISTRY_METRICS_ADDRESS names a separate metrics listener; a malformed one is refused")
    func metricsAddress() throws {
        let c = try Configuration.fromEnvironment(["REGISTRY_METRICS_ADDRESS": "10.0.0.5:9464"])
        #expect(c.metricsHost == "10.0.0.5" && c.metricsPort == 9464)
        for bad in ["9464", ":9464", "host:0", "host:99999", "host:port"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { _ = try Configuration.fromEnvironment(["REGISTRY_METRICS_ADDRESS": bad]) }
        }
    }

    @Test("concurrent wrong passwords cannot all slip under the limit: attempts are counted before the check")
    func loginThrottleIsAtomic() async throws {
        try await withTestRegistry { registry, _ in
            _ = try await registry.makeUser(email: "target@example.cn", password: "the right password")
            let allowed = registry.policies.authentication.loginThrottle.accountFailuresAllowed
            let attempts = allowed * 4
            let refusedAsWrong = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<attempts {
                    group.addTask {
                        do {
                            _ = try await registry.auth.login(
                                .email("target@example.cn"),
                                password: "guess \(i)",
                                clientAddress: nil,
                                presentedToken: nil,
                                requestID: nil,
                                logger: testLogger
                            )
                            return "signed in"
                        } catch let error as RegistryError {
                            return error.code
                        }
                    }
                }
                var codes: [String] = []
                for try await code in group { codes.append(code) }
                return codes
            }
            // Only the allowance was ever checked against the password; the rest were throttled unseen.
            #expect(refusedAsWrong.filter { $0 == "invalid_credentials" }.count == allowed, "\(refusedAsWrong)")
            #expect(refusedAsWrong.filter { $0 == "too_many_attempts" }.count == attempts - allowed)
            #expect(try await registry.auditCount("auth.login_failed") == allowed)
        }
    }

    @Test("consent-code guesses are bounded per client address too, whichever employer account guesses")
    func consentGuessesPerAddress() async throws {
        try await withTestRegistry { registry, _ in
            let perEmployer = registry.policies.reports.redeemFailuresAllowed
            var employers: [Caller] = []
            for i in 0..<4 {
                let id = try await registry.accounts.registerEmployer(
                    .init(email: "guess\(i)@example.cn", phone: nil, password: "employer password", householdName: "家\(i)", regionCode: "320102"),
                    caller: .system,
                    logger: testLogger
                )
                employers.append(Caller(Principal(.user(id: id, role: .employer, agencyID: nil, workerID: nil))))
            }
            var wrong = 0
            var throttled = 0
            for employer in employers {
                for _ in 0..<perEmployer {
                    do {
                        _ = try await registry.consents.redeem(code: "ABCDEFGH", caller: employer, clientAddress: "198.51.100.7", logger: testLogger)
                    } catch let error as RegistryError {
                        if error.code == "too_many_attempts" { throttled += 1 } else { wrong += 1 }
                    }
                }
            }
            // Fresh employer accounts do not buy more guesses from one address.
            #expect(wrong == perEmployer * 3, "wrong \(wrong), throttled \(throttled)")
            #expect(throttled == perEmployer)
        }
    }

    @Test("account creation is throttled per address before any password is hashed")
    func registrationThrottled() async throws {
        let hasher = PasswordHasher(parameters: testHasher.parameters, concurrency: 100)
        try await withTestRegistry(hasher: hasher) { registry, _ in
            try await awayFromMinuteBoundary()
            let limit = registry.policies.authentication.registrationsPerAddressPerMinute
            var answers: [String] = []
            // Twice the limit and two more: even split by one minute boundary, one window goes over.
            for i in 0..<(2 * limit + 2) {
                do {
                    _ = try await registry.accounts.register(
                        .init(email: "flood\(i)@example.cn", phone: nil, password: "employer password", householdName: "家", regionCode: "320102"),
                        caller: .system,
                        clientAddress: "203.0.113.9",
                        logger: testLogger
                    )
                    answers.append("ok")
                } catch let error as RegistryError {
                    answers.append(error.code)
                    #expect(error.details["retry_after"] != nil)
                }
            }
            #expect(answers.filter { $0 == "too_many_attempts" }.count >= 1, "\(answers)")
            // A hash for each account created, none for a refused one.
            #expect(hasher.gate.completed == answers.filter { $0 == "ok" }.count, "\(hasher.gate.completed) hashes for \(answers)")
            #expect(try await registry.count("SELECT count(*)::int FROM users WHERE role = 'employer' AND id <> $1", UUID()) <= 2 * limit)
        }
    }

    @Test("the hash gate answers busy at once when its slots are taken, and frees them")
    func hashGateBounds() async throws {
        let hasher = PasswordHasher(parameters: .init(memory: 8_192, iterations: 3, parallelism: 1), concurrency: 2)
        let results = await withTaskGroup(of: String.self) { group in
            for _ in 0..<12 {
                group.addTask {
                    do {
                        _ = try await hasher.hash("a password to hash")
                        return "hashed"
                    } catch let e as RegistryError { return e.code } catch { return "?" }
                }
            }
            var all: [String] = []
            for await r in group { all.append(r) }
            return all
        }
        #expect(results.contains("busy"), "\(results)")
        #expect(results.contains("hashed"))
        #expect(hasher.gate.inFlight == 0)
    }

    /// Waits out the second half of a calendar minute, so that a per-minute count is not split even
    /// when the calls are slow under the whole suite's load.
    func awayFromMinuteBoundary() async throws {
        let second = Int(Date().timeIntervalSince1970) % 60
        if second > 30 { try await Task.sleep(for: .seconds(61 - second)) }
    }

    @Test("behind a trusted proxy each client has its own throttle; forwarding headers from anyone else are ignored")
    func trustedProxiesSeparateClients() async throws {
        let trusted = [ClientAddress.Range("127.0.0.1")!, ClientAddress.Range("::1")!]
        try await withTestRegistry(configure: { $0.trustedProxies = trusted }) { registry, _ in
            let app = Application(router: buildRouter(registry).0, logger: testLogger)
            try await app.test(.live) { client in
                let limit = registry.policies.reports.publicLookupsPerMinute
                let body = TestJSON.body(["id_number": Fixtures.idNumber(serial: 330)])
                func lookup(_ forwardedFor: String) async throws -> HTTPResponse.Status {
                    try await client.execute(
                        uri: "/api/v1/public/ban-status",
                        method: .post,
                        headers: [.contentType: "application/json", HTTPField.Name("X-Forwarded-For")!: forwardedFor],
                        body: body
                    ).status
                }
                // The window is a clock minute: on a loaded machine the requests may straddle two,
                // so a round that crossed a boundary is run again with fresh addresses.
                for round in 1...3 {
                    try await awayFromMinuteBoundary()
                    let minute = Int(Date().timeIntervalSince1970) / 60
                    let (her, other) = ("198.51.100.\(round)", "198.51.100.\(round + 10)")
                    var statuses: [HTTPResponse.Status] = []
                    for _ in 0..<limit { statuses.append(try await lookup(her)) }
                    let over = try await lookup(her)
                    // Another person behind the same proxy is not throttled with her; a client cannot pose as her by writing the header itself.
                    let neighbour = try await lookup(other)
                    let posing = try await lookup("\(other), \(her)")
                    guard Int(Date().timeIntervalSince1970) / 60 == minute || round == 3 else { continue }
                    #expect(statuses.allSatisfy { $0 == .ok })
                    #expect(over == .tooManyRequests)
                    #expect(neighbour == .ok)
                    #expect(posing == .tooManyRequests)
                    break
                }
            }
        }
        try await withTestRegistry { registry, _ in
            // No trusted proxies: the header is ignored, so writing a new one each time buys nothing.
            let app = Application(router: buildRouter(registry).0, logger: testLogger)
            try await app.test(.live) { client in
                try await awayFromMinuteBoundary()
                let limit = registry.policies.reports.publicLookupsPerMinute
                var statuses: [HTTPResponse.Status] = []
                for i in 0...limit {
                    statuses.append(
                        try await client.execute(
                            uri: "/api/v1/public/ban-status",
                            method: .post,
                            headers: [.contentType: "application/json", HTTPField.Name("X-Forwarded-For")!: "203.0.113.\(i)"],
                            body: TestJSON.body(["id_number": Fixtures.idNumber(serial: 330)])
                        ).status
                    )
                }
                #expect(statuses.last == .tooManyRequests, "\(statuses)")
            }
        }
    }

    @Test("REGISTRY_PUBLIC_URL is the origin of links that leave the browser; a malformed one is refused")
    func publicURL() throws {
        let c = try Configuration.fromEnvironment([
            "REGISTRY_PUBLIC_URL": "https://registry.example.cn/", "REGISTRY_TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8",
        ])
        #expect(c.publicURL == "https://registry.example.cn")
        #expect(c.trustedProxies.count == 2)
        for bad in ["registry.example.cn", "ftp://x.cn", "https://", "https://x.cn/?a=1"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { _ = try Configuration.fromEnvironment(["REGISTRY_PUBLIC_URL": bad]) }
        }
        #expect(throws: ConfigurationError.self) { _ = try Configuration.fromEnvironment(["REGISTRY_TRUSTED_PROXIES": "10.0.0.0/8, nonsense"]) }
    }

    @Test("transfers: no personal details before consent, attempts capped over the whole transfer, resends capped, requests per agency capped")
    func transfersAreNoOracleOrHijack() async throws {
        try await withTestRegistry { registry, _ in
            let (_, a) = try await registry.approvedAgency(1)
            let (_, b) = try await registry.approvedAgency(2)
            let id = Fixtures.idNumber(serial: 340)
            let w = try await registry.workers.register(Fixtures.registration(id), caller: a, logger: testLogger)
            let requested = try await registry.transfers.request(idNumber: id, caller: b, logger: testLogger)
            let tid = try #require(UUID(uuidString: requested.transfer.id))
            for view in [
                requested.transfer, try await registry.transfers.get(tid, caller: b, logger: testLogger),
                try #require(try await registry.transfers.list(openOnly: true, caller: b, logger: testLogger).first),
            ] {
                #expect(view.workerName == nil && view.fromAgencyName == nil && view.fromAgencyId == nil)
            }
            // The agency in custody sees who asked and for whom.
            #expect(try await registry.transfers.get(tid, caller: a, logger: testLogger).workerName == "李秀英")
            // Wrong codes count over the transfer's life: a new code does not give new tries.
            let attempts = registry.policies.custody.consentCodeAttempts
            var codes: [String] = []
            for i in 0..<(attempts + 2) {
                if i == 2 { _ = try await registry.transfers.resendCode(tid, caller: b, logger: testLogger) }
                do {
                    _ = try await registry.transfers.consent(tid, code: "99999\(i % 10)", caller: b, logger: testLogger)
                    codes.append("consented")
                } catch let e as RegistryError { codes.append(e.code) }
            }
            #expect(codes.filter { $0 == "wrong_code" }.count == attempts, "\(codes)")
            #expect(codes.last == "code_exhausted")
            // The right code no longer works either; resends are refused.
            let right = try #require(try await registry.lastConsentCode())
            let late = await #expect(throws: RegistryError.self) {
                _ = try await registry.transfers.consent(tid, code: right, caller: b, logger: testLogger)
            }
            #expect(late?.code == "code_exhausted")
            let resend = await #expect(throws: RegistryError.self) { _ = try await registry.transfers.resendCode(tid, caller: b, logger: testLogger) }
            #expect(resend?.code == "codes_exhausted" || resend?.code == "code_exhausted")
            // She still consents in her own account: the file is hers. And she can withdraw until it completes.
            _ = try await registry.accounts.startWorkerAccount(w, caller: a, logger: testLogger)
            let activation = try #require(try await registry.lastCode("worker_activation_code"))
            try await registry.accounts.activateWorker(
                phone: "13800138000",
                code: activation,
                password: "worker password",
                throttle: registry.policies.authentication,
                logger: testLogger
            )
            let user = try #require(
                try await registry.database.withConnection { c in
                    try await AccountStore.find(email: nil, phone: "13800138000", on: c, logger: testLogger)
                }
            )
            let worker = Caller(Principal(.user(id: UserID(user.id), role: .worker, agencyID: nil, workerID: w)))
            let mine = try await registry.transfers.list(openOnly: true, caller: worker, logger: testLogger)
            #expect(mine.map(\.id) == [tid.text] && mine.first?.fromAgencyName != nil)
            let consented = try await registry.transfers.consent(tid, code: nil, caller: worker, logger: testLogger)
            #expect(consented.status == "consented")
            let withdrawn = try await registry.transfers.close(tid, .cancel, reason: "我改主意了", caller: worker, logger: testLogger)
            #expect(withdrawn.status == "cancelled")
            #expect(try await registry.workers.file(w, caller: a, logger: testLogger).id == w.text)  // still in A's custody
        }
    }

    @Test("an agency's transfer requests per day are capped before any ID number is looked up")
    func transferRequestsPerAgencyCapped() async throws {
        var policies = try PolicySet.load(directory: repositoryRoot + "/Policies")
        policies.custody.transferRequestsPerAgencyPerDay = 3
        try await withTestRegistry(policies: policies) { registry, _ in
            let (_, b) = try await registry.approvedAgency(2)
            var codes: [String] = []
            for i in 0..<5 {
                do {
                    _ = try await registry.transfers.request(idNumber: Fixtures.idNumber(serial: 350 + 2 * i), caller: b, logger: testLogger)
                } catch let e as RegistryError { codes.append(e.code) }
            }
            #expect(codes == ["no_file", "no_file", "no_file", "too_many_transfer_requests", "too_many_transfer_requests"], "\(codes)")
        }
    }

    @Test("an employer reading a report sees her own household's name on reviews, never another household's")
    func reportHidesOtherHouseholds() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let e = try await registry.engagements.place(
                .init(workerId: h.workerID.uuid, employerEmail: "home@example.cn", employerPhone: nil, category: "nanny", startsOn: "2026-01-01"),
                caller: h.agency,
                logger: testLogger
            )
            _ = try await registry.engagements.transition(e, "confirm", caller: h.employer, logger: testLogger)
            _ = try await registry.engagements.review(
                engagement: e,
                .init(
                    skillScores: ["punctuality": 4],
                    ethicsScores: ["honesty": 5, "respect": 5, "reliability": 5, "care": 5],
                    comment: "很好"
                ),
                caller: h.employer,
                logger: testLogger
            )
            // A second household checks her with a consent code.
            let otherID = try await registry.accounts.registerEmployer(
                .init(email: "other@example.cn", phone: nil, password: "employer password", householdName: "王家", regionCode: "320102"),
                caller: .system,
                logger: testLogger
            )
            let other = Caller(Principal(.user(id: otherID, role: .employer, agencyID: nil, workerID: nil)))
            let issued = try await registry.consents.issue(caller: h.worker, logger: testLogger)
            _ = try await registry.consents.redeem(code: try #require(issued.code), caller: other, logger: testLogger)
            let seen = try await registry.reports.report(h.workerID, caller: other, logger: testLogger)
            #expect(seen.reviews.recent.count == 1 && seen.reviews.recent.allSatisfy { $0.household == nil })
            let own = try await registry.reports.report(h.workerID, caller: h.employer, logger: testLogger)
            #expect(own.reviews.recent.first?.household == "张家")
            let agency = try await registry.reports.report(h.workerID, caller: h.agency, logger: testLogger)
            #expect(agency.reviews.recent.first?.household == "张家")
        }
    }

    @Test("the for-hire search is throttled per employer")
    func searchThrottled() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            // Right before the searches (setting up can take seconds under load): one window holds them all.
            try await awayFromMinuteBoundary()
            let limit = registry.policies.reports.searchesPerMinute
            var throttled = 0
            for _ in 0...limit {
                do {
                    _ = try await registry.reports.searchAvailable(
                        .init(region: nil, category: nil, minLevel: nil, minGrade: nil, limit: 5, offset: 0),
                        caller: h.employer,
                        logger: testLogger
                    )
                } catch let e as RegistryError where e.code == "too_many_attempts" { throttled += 1 }
            }
            #expect(throttled == 1)
            // Per employer: another household still searches.
            let otherID = try await registry.accounts.registerEmployer(
                .init(email: "other-home@example.cn", phone: nil, password: "employer password", householdName: "李家", regionCode: "320102"),
                caller: .system,
                logger: testLogger
            )
            let other = Caller(Principal(.user(id: otherID, role: .employer, agencyID: nil, workerID: nil)))
            _ = try await registry.reports.searchAvailable(
                .init(region: nil, category: nil, minLevel: nil, minGrade: nil, limit: 5, offset: 0),
                caller: other,
                logger: testLogger
            )
        }
    }

    @Test("sealed values are bound to their row and key version; a value moved to another row does not open; legacy values still open")
    func sealedValuesBoundToTheirPlace() throws {
        let ring = KeyRing.random()
        let a = UUID()
        let b = UUID()
        let sealed = ring.seal("11010519491231002X", context: SealedPlace.workerID(a))
        #expect(try ring.open(sealed, context: SealedPlace.workerID(a)) == "11010519491231002X")
        expectErrorSync("unsealable") { try ring.open(sealed, context: SealedPlace.workerID(b)) }
        #expect(KeyRing.version(of: sealed) == 1 && ring.isCurrent(sealed))
        // A value sealed before versions (no header, no associated data) still opens, and is not current.
        let legacy = Array(try AES.GCM.seal(Data("secret".utf8), using: ring.sealingKey).combined!)
        #expect(try ring.open(legacy, context: "anything") == "secret" && !ring.isCurrent(legacy))
        // After a rotation both versions open; new values carry the new version.
        let rotated = ring.addingSealingVersion()
        #expect(try rotated.open(sealed, context: SealedPlace.workerID(a)) == "11010519491231002X")
        let resealed = rotated.seal("11010519491231002X", context: SealedPlace.workerID(a))
        #expect(KeyRing.version(of: resealed) == 2 && rotated.isCurrent(resealed) && !rotated.isCurrent(sealed))
        expectErrorSync("unsealable") { try ring.open(resealed, context: SealedPlace.workerID(a)) }
        // The stored form keeps every version.
        let reloaded = try KeyRing(stored: rotated.stored)
        #expect(try reloaded.currentSealingVersion == 2 && reloaded.open(sealed, context: SealedPlace.workerID(a)) == "11010519491231002X")
    }

    @Test("keys rotate: every ID number, narrative and secret is re-sealed under the new version, in batches, and a re-run changes nothing")
    func keyRotationReseals() async throws {
        try await withTestRegistry { registry, _ in
            let (_, agency) = try await registry.approvedAgency(1)
            var workers: [WorkerID] = []
            for i in 0..<5 {
                workers.append(
                    try await registry.workers.register(
                        Fixtures.registration(Fixtures.idNumber(serial: 600 + 2 * i)),
                        caller: agency,
                        logger: testLogger
                    )
                )
            }
            let (sourceID, _, _, police) = try await registry.source("police-k", kind: "police", signed: true)
            _ = try await registry.flags.submit([flag(Fixtures.idNumber(serial: 600), "K-1")], sourceID: sourceID, caller: police, logger: testLogger)
            let rotated = registry.keys.addingSealingVersion()
            let summary = try await KeyRotation(database: registry.database, keys: rotated).reseal(batch: 2, logger: testLogger)
            #expect(summary.workers == 5 && summary.narratives == 1 && summary.secrets == 1, "\(summary)")
            var opened = 0
            for try await (id, cipher, version) in try await registry.database.query(
                "SELECT id, id_ciphertext, id_key_version FROM workers",
                logger: testLogger
            ).decode((UUID, Data, Int16).self) {
                #expect(version == 2 && KeyRing.version(of: Array(cipher)) == 2)
                if (try? rotated.open(Array(cipher), context: SealedPlace.workerID(id))) != nil { opened += 1 }
            }
            #expect(opened == 5)
            // The narrative and the source's signing secret too, read from their rows.
            let narrative = try await single(
                try await registry.database.query(
                    "SELECT narrative_enc FROM flags WHERE narrative_enc IS NOT NULL",
                    logger: testLogger
                ),
                Data.self
            )
            let secret = try await single(
                try await registry.database.query(
                    "SELECT signing_secret_enc FROM integration_sources WHERE id = \(sourceID)",
                    logger: testLogger
                ),
                Data.self
            )
            #expect(KeyRing.version(of: Array(narrative)) == 2 && KeyRing.version(of: Array(secret)) == 2)
            let before = try await registry.fingerprint()
            let again = try await KeyRotation(database: registry.database, keys: rotated).reseal(logger: testLogger)
            #expect(again.workers == 0 && again.narratives == 0 && again.secrets == 0)
            #expect(changedTables(before, try await registry.fingerprint()).allSatisfy { $0.hasPrefix("audit_") }, "a re-run only records itself")
            #expect(try await registry.auditCount("keys.resealed") == 2)
        }
    }

    @Test("outside demo mode a keys file inside the data folder is refused; in demo mode an old one is moved out")
    func keysFileOutsideTheDataFolder() throws {
        let root = NSTemporaryDirectory() + "keys-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        var c = try Configuration.fromEnvironment(["REGISTRY_DATA_DIR": root + "/data"])
        // The default lies beside the data folder.
        #expect(!c.keysFile.hasPrefix(root + "/data/"))
        let keys = try c.loadKeys()
        #expect(FileManager.default.fileExists(atPath: c.keysFile))
        let mode = try FileManager.default.attributesOfItem(atPath: c.keysFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // Pointing it inside the data folder is refused.
        var inside = c
        inside.keysFileSetting = root + "/data/keys.json"
        #expect(throws: ConfigurationError.self) { _ = try inside.loadKeys() }
        // A keys file left inside by an earlier version: refused, or moved out in demo mode.
        try FileManager.default.removeItem(atPath: c.keysFile)
        try FileManager.default.createDirectory(atPath: root + "/data", withIntermediateDirectories: true)
        let data = try JSONEncoder().encode(keys.stored)
        FileManager.default.createFile(atPath: c.legacyKeysFile, contents: data)
        #expect(throws: ConfigurationError.self) { _ = try c.loadKeys() }
        let moved = try c.loadKeys(demo: true)
        #expect(moved.stored.sealing_key == keys.stored.sealing_key)
        #expect(!FileManager.default.fileExists(atPath: c.legacyKeysFile) && FileManager.default.fileExists(atPath: c.keysFile))
        c.sealingKey = nil
    }

    @Test("audit verify computes every hash itself: a row rewritten with a redefined audit_content_hash is still caught")
    func verifyDoesNotTrustTheDatabasesHashFunction() async throws {
        try await withTestRegistry { registry, endpoint in
            _ = try await registry.approvedAgency(1)
            try await AuditStore.integrateAll(database: registry.database, logger: testLogger)
            guard case .intact(let count, _) = try await AuditStore.verify(database: registry.database, logger: testLogger), count >= 3 else {
                Issue.record("expected an intact chain first")
                return
            }
            try await asOwner(endpoint) { owner in
                // The schema owner makes the database's hash function agree with whatever a row says, then rewrites a row.
                try await owner.query(
                    """
                    CREATE OR REPLACE FUNCTION audit_content_hash(
                        p_id bigint, p_occurred_at timestamptz, p_actor_kind text, p_actor_id uuid, p_actor_role text,
                        p_action text, p_subject_type text, p_subject_id text, p_request_id text, p_details jsonb
                    ) RETURNS bytea LANGUAGE sql STABLE AS $$ SELECT content_hash FROM audit_log WHERE id = p_id $$
                    """,
                    logger: testLogger
                )
                try await owner.query("ALTER TABLE audit_log DISABLE TRIGGER USER", logger: testLogger)
                try await owner.query(
                    """
                    UPDATE audit_log SET details = '{"forged": true}' WHERE id = (SELECT event_id FROM audit_chain WHERE seq = 2)
                    """,
                    logger: testLogger
                )
            }
            let (result, _) = try await AuditStore.verifyChain(database: registry.database, logger: testLogger)
            guard case .broken(let seq, _, let reason) = result else {
                Issue.record("the rewrite went unnoticed: \(result)")
                return
            }
            #expect(seq == 2 && reason.contains("changed"))
        }
    }

    @Test("the service role cannot write the chain or empty the queue; only the sequencer function does")
    func onlyTheSequencerWritesTheChain() async throws {
        try await withTestRegistry { registry, _ in
            _ = try await registry.approvedAgency(1)
            func sqlState(_ sql: String) async -> String? {
                do {
                    try await registry.database.query(PostgresQuery(unsafeSQL: sql), logger: testLogger)
                    return nil
                } catch let error as PSQLError { return error.serverInfo?[.sqlState] } catch { return "?" }
            }
            #expect(await sqlState("DELETE FROM audit_queue") == "42501")
            #expect(
                await sqlState(
                    """
                    INSERT INTO audit_chain (seq, event_id, prev_hash, hash)
                    SELECT 1000000, min(id), decode(repeat('00', 32), 'hex'), decode(repeat('00', 32), 'hex') FROM audit_log
                    """
                ) == "42501"
            )
            // Through the function, as the service, the queue is chained, and the chain verifies.
            let chained = try await AuditStore.integrate(database: registry.database, logger: testLogger)
            #expect(chained >= 3)
            guard case .intact = try await AuditStore.verify(database: registry.database, logger: testLogger) else {
                Issue.record("expected an intact chain")
                return
            }
        }
    }

    @Test("a worker has at most consent_codes_live_max codes that work at once, from her account or her agency together")
    func liveConsentCodesBounded() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let max = registry.policies.reports.consentCodesLiveMax
            var issued: [ConsentService.Issued] = []
            for i in 0..<max {
                issued.append(
                    i % 2 == 0
                        ? try await registry.consents.issue(caller: h.worker, logger: testLogger)
                        : try await registry.consents.issueByAgency(h.workerID, caller: h.agency, logger: testLogger)
                )
            }
            let over = await #expect(throws: RegistryError.self) { _ = try await registry.consents.issue(caller: h.worker, logger: testLogger) }
            #expect(over?.code == "too_many_codes")
            let byAgency = await #expect(throws: RegistryError.self) {
                _ = try await registry.consents.issueByAgency(h.workerID, caller: h.agency, logger: testLogger)
            }
            #expect(byAgency?.code == "too_many_codes")
            // Revoking one makes room again.
            try await registry.consents.revoke(try #require(UUID(uuidString: issued[0].id)), caller: h.worker, logger: testLogger)
            _ = try await registry.consents.issue(caller: h.worker, logger: testLogger)
        }
    }

    @Test("the report's counts and averages cover every review and engagement while it lists only the newest")
    func reportAggregatesInSQL() async throws {
        var policies = try PolicySet.load(directory: repositoryRoot + "/Policies")
        policies.reports.reportRecentReviews = 2
        try await withTestRegistry(policies: policies) { registry, _ in
            let h = try await Household.make(registry)
            let scores = [(5, 4), (3, 2), (4, 5), (1, 3)]
            for (i, (quality, honesty)) in scores.enumerated() {
                let employer = try await registry.employer("r\(i)@example.cn", household: "家\(i)")
                let e = try await registry.engagement(h, employerEmail: "r\(i)@example.cn", startsOn: "2026-0\(i + 1)-01", confirmedBy: employer)
                _ = try await registry.engagements.review(
                    engagement: e,
                    .init(
                        skillScores: ["quality": quality],
                        ethicsScores: ["honesty": honesty, "respect": 4, "reliability": 4, "care": 4],
                        comment: nil
                    ),
                    caller: employer,
                    logger: testLogger
                )
            }
            let report = try await registry.reports.report(h.workerID, caller: h.agency, logger: testLogger)
            #expect(report.reviews.count == 4 && report.reviews.recent.count == 2)
            #expect(report.reviews.skillAverages["quality"] == 3.25)
            #expect(report.reviews.ethicsAverages["honesty"] == 3.5 && report.reviews.ethicsAverages["care"] == 4)
            #expect(report.engagements.count == 4 && report.engagements.items.count == 4)
            let today = CivilDate.today()
            let days = (1...4).map { today.daysSinceEpoch - CivilDate(year: 2026, month: $0, day: 1)!.daysSinceEpoch }.reduce(0) { $0 + max(0, $1) }
            #expect(report.engagements.totalDays == days)
        }
    }

    static func multipartBody(_ fileBytes: Int) -> ByteBuffer {
        var b = ByteBuffer()
        b.writeString("--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n证据说明\r\n")
        b.writeString("--XyZ\r\nContent-Disposition: form-data; name=\"evidence\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n")
        b.writeBytes([UInt8](repeating: 0x25, count: fileBytes))
        b.writeString("\r\n--XyZ--\r\n")
        return b
    }

    @Test("a multipart form is parsed as it streams in, within the size limit, leaving no temporary file; a file part is kept once, as bytes")
    func multipartFormsStreamToDisk() async throws {
        let router = Router(context: AppRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.post("/form") { request, context -> String in
            let form = try await WebForm.read(request, context: context, limit: 64 * 1024)
            let file = form.files["evidence"]?.first
            return "\(form.text("note"))|\(form.text("evidence"))|\(file?.bytes.count ?? -1)|\(file?.contentType ?? "")"
        }
        let app = Application(router: router, logger: testLogger)
        let leftovers = {
            (try? FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()))?
                .filter { $0.hasPrefix("registry-form-") }.count ?? 0
        }
        let before = leftovers()
        try await app.test(.router) { client in
            let ok = try await client.execute(
                uri: "/form",
                method: .post,
                headers: [.contentType: "multipart/form-data; boundary=XyZ"],
                body: Self.multipartBody(10_000)
            )
            #expect(String(buffer: ok.body) == "证据说明|a.pdf|10000|application/pdf")
            let big = try await client.execute(
                uri: "/form",
                method: .post,
                headers: [.contentType: "multipart/form-data; boundary=XyZ"],
                body: Self.multipartBody(100_000)
            )
            #expect(big.status == .contentTooLarge, "\(big.status)")
        }
        #expect(leftovers() == before)
    }
}
