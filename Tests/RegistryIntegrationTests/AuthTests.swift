import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegistryDomain
import RegistryHTTP
import RegistrySecurity
import RegistryServices
import RegistryStorage
import Testing

/// Sign-in, sessions, throttling and access over the real HTTP stack and a real database.
@Suite("Accounts and sessions")
struct AuthTests {
    static let password = "correct horse battery"

    func login(
        _ client: any TestClientProtocol,
        email: String,
        password: String = Self.password,
        headers: HTTPFields = [.contentType: "application/json"]
    ) async throws -> TestResponse {
        try await client.execute(
            uri: "/api/v1/auth/login",
            method: .post,
            headers: headers,
            body: TestJSON.body(["email": email, "password": password])
        )
    }

    func token(_ response: TestResponse) -> String {
        TestJSON.object(response.body)["token"] as? String ?? ""
    }

    func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }

    @Test("an admin signs in over the API: 200 with a bearer token and the user, and no cookie")
    func loginSucceeds() async throws {
        try await withTestApp { registry, _, client in
            _ = try await registry.makeUser(email: "admin@example.cn", password: Self.password)
            let response = try await login(client, email: "Admin@Example.cn ")
            #expect(response.status == .ok)
            let body = TestJSON.object(response.body)
            #expect((body["user"] as? [String: Any])?["role"] as? String == "admin")
            #expect((body["token"] as? String)?.count == 43)
            // The API answers a bearer token and sets no cookie: pages have their own sign-in.
            #expect(response.headers[.setCookie] == nil)
            let me = try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: bearer(token(response)))
            #expect(me.status == .ok)
            #expect((TestJSON.object(me.body)["permissions"] as? [String])?.contains("audit.verify") == true)
            // Only the hash of the token is stored.
            let rows = try await registry.database.query(
                "SELECT count(*)::int FROM sessions WHERE token_hash = \(Data(TokenGenerator.hash(token(response))))",
                logger: testLogger
            )
            #expect(try await single(rows, Int.self) == 1)
        }
    }

    @Test("wrong password, unknown account and disabled account get the same 401 answer")
    func sameAnswer() async throws {
        try await withTestApp { registry, _, client in
            let id = try await registry.makeUser(email: "admin@example.cn", password: Self.password)
            let wrong = try await login(client, email: "admin@example.cn", password: "not the password")
            let unknown = try await login(client, email: "nobody@example.cn", password: "not the password")
            try await registry.database.withConnection { connection in
                try await AccountStore.setStatus("disabled", userID: id, on: connection, logger: testLogger)
            }
            let disabled = try await login(client, email: "admin@example.cn")
            for response in [wrong, unknown, disabled] {
                #expect(response.status == .unauthorized)
                #expect(String(buffer: response.body) == String(buffer: wrong.body))
            }
            #expect(TestJSON.errorCode(wrong.body) == "invalid_credentials")
        }
    }

    @Test("bad input is a clear 400 and changes nothing")
    func badInput() async throws {
        try await withTestApp { registry, _, client in
            _ = try await registry.makeUser(email: "a@b.cn", password: Self.password)
            let before = try await registry.fingerprint()
            let malformed = try await client.execute(
                uri: "/api/v1/auth/login",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: "{nope")
            )
            #expect(malformed.status == .badRequest)
            #expect(TestJSON.errorCode(malformed.body) == "malformed_json")
            let missing = try await client.execute(
                uri: "/api/v1/auth/login",
                method: .post,
                headers: [.contentType: "application/json"],
                body: TestJSON.body(["email": "a@b.cn"])
            )
            #expect(missing.status == .badRequest)
            #expect(TestJSON.errorCode(missing.body) == "missing_field")
            let both = try await client.execute(
                uri: "/api/v1/auth/login",
                method: .post,
                headers: [.contentType: "application/json"],
                body: TestJSON.body(["email": "a@b.cn", "phone": "13800138000", "password": "x"])
            )
            #expect(both.status == .badRequest)
            let badEmail = try await login(client, email: "not-an-email")
            #expect(badEmail.status == .badRequest)
            #expect((TestJSON.object(badEmail.body)["error"] as? [String: Any])?["field"] as? String == "email")
            // Nothing changed: no session, no audit row, no failure counted against anyone.
            #expect(changedTables(before, try await registry.fingerprint()) == [])
        }
    }

    @Test("after too many failures the account is throttled (429, even with the right password), and the block is capped")
    func throttling() async throws {
        try await withTestApp { registry, _, client in
            _ = try await registry.makeUser(email: "admin@example.cn", password: Self.password)
            let allowed = registry.policies.authentication.loginThrottle.accountFailuresAllowed
            for _ in 0..<allowed {
                #expect(try await login(client, email: "admin@example.cn", password: "guess").status == .unauthorized)
            }
            let blocked = try await login(client, email: "admin@example.cn")
            #expect(blocked.status == .tooManyRequests)
            let retry = try #require(blocked.headers[.retryAfter].flatMap(Int.init))
            #expect(retry > 0 && retry <= registry.policies.authentication.loginThrottle.maxBlockSeconds)
            // Same answer for an account that does not exist, once it is attacked as often.
            for _ in 0..<allowed { _ = try await login(client, email: "ghost@example.cn", password: "guess") }
            #expect(try await login(client, email: "ghost@example.cn").status == .tooManyRequests)
            // Another account is not affected.
            _ = try await registry.makeUser(email: "other@example.cn", password: Self.password)
            #expect(try await login(client, email: "other@example.cn").status == .ok)
            // The block doubles with each further attempt, up to the cap: after a thousand failures it is the cap, not more.
            let cap = registry.policies.authentication.loginThrottle.maxBlockSeconds
            try await registry.database.query(
                "UPDATE login_throttle SET failures = 1000, window_started = now(), blocked_until = now() - interval '1 second'",
                logger: testLogger
            )
            _ = try await login(client, email: "admin@example.cn", password: "guess")
            let capped = try await login(client, email: "admin@example.cn")
            let cappedRetry = try #require(capped.headers[.retryAfter].flatMap(Int.init))
            // The block began at the previous request: on a loaded machine (the whole suite hashing
            // passwords on two cores) seconds pass between the two, so Retry-After is a little under
            // the cap — never over it, and nowhere near an uncapped doubling.
            #expect(capped.status == .tooManyRequests && (cap - 60)...cap ~= cappedRetry, "Retry-After \(cappedRetry), cap \(cap)")
            // When the block ends the owner gets in, and success clears the counter.
            try await registry.database.withConnection { connection in
                try await connection.query("UPDATE login_throttle SET blocked_until = now() - interval '1 second'", logger: testLogger)
            }
            #expect(try await login(client, email: "admin@example.cn").status == .ok)
        }
    }

    @Test("session fixation is prevented: signing in gives a new token and ends the one presented")
    func sessionFixation() async throws {
        try await withTestApp { registry, _, client in
            _ = try await registry.makeUser(email: "admin@example.cn", password: Self.password)
            let first = token(try await login(client, email: "admin@example.cn"))
            let second = try await login(
                client,
                email: "admin@example.cn",
                headers: [.cookie: "registry_session=\(first)", .contentType: "application/json"]
            )
            #expect(second.status == .ok)
            #expect(token(second) != first)
            #expect(try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: bearer(first)).status == .unauthorized)
            #expect(try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: bearer(token(second))).status == .ok)
            // A token the server never issued is just anonymous.
            let invented = try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: bearer("attacker-chosen-token"))
            #expect(invented.status == .unauthorized)
        }
    }

    @Test("logout ends the session and clears the cookie")
    func logout() async throws {
        try await withTestApp { registry, _, client in
            _ = try await registry.makeUser(email: "admin@example.cn", password: Self.password)
            let t = token(try await login(client, email: "admin@example.cn"))
            let out = try await client.execute(uri: "/api/v1/auth/logout", method: .post, headers: bearer(t))
            #expect(out.status == .noContent)
            #expect(out.headers[.setCookie]?.contains("Max-Age=0") == true)
            #expect(try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: bearer(t)).status == .unauthorized)
            #expect(try await client.execute(uri: "/api/v1/auth/logout", method: .post, headers: bearer(t)).status == .unauthorized)
        }
    }

    @Test("disabling a user ends all her sessions; changing a password ends the others")
    func disableAndPasswordChange() async throws {
        try await withTestApp { registry, _, client in
            _ = try await registry.makeUser(email: "admin@example.cn", password: Self.password)
            let staffID = try await registry.makeUser(role: .employer, email: "boss@example.cn", password: Self.password)
            let admin = token(try await login(client, email: "admin@example.cn"))
            let a = token(try await login(client, email: "boss@example.cn"))
            let b = token(try await login(client, email: "boss@example.cn"))

            let change = try await client.execute(
                uri: "/api/v1/auth/password",
                method: .post,
                headers: bearer(a),
                body: TestJSON.body(["current_password": Self.password, "new_password": "a brand new secret"])
            )
            #expect(change.status == .noContent)
            #expect(try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: bearer(b)).status == .unauthorized)
            #expect(try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: bearer(a)).status == .ok)
            let short = try await client.execute(
                uri: "/api/v1/auth/password",
                method: .post,
                headers: bearer(a),
                body: TestJSON.body(["current_password": "a brand new secret", "new_password": "short"])
            )
            #expect(short.status == .badRequest)

            // A second live session, so that disabling has more than one to end.
            let c = token(try await login(client, email: "boss@example.cn", password: "a brand new secret"))
            #expect(try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: bearer(c)).status == .ok)
            // An employer may not disable anyone; an admin may.
            let forbidden = try await client.execute(
                uri: "/api/v1/users/\(staffID.uuidString)/disable",
                method: .post,
                headers: bearer(a),
                body: TestJSON.body(["reason": "no"])
            )
            #expect(forbidden.status == .forbidden)
            let disabled = try await client.execute(
                uri: "/api/v1/users/\(staffID.uuidString)/disable",
                method: .post,
                headers: bearer(admin),
                body: TestJSON.body(["reason": "left the platform"])
            )
            #expect(disabled.status == .noContent)
            #expect(try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: bearer(a)).status == .unauthorized)
            #expect(try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: bearer(c)).status == .unauthorized)
            #expect(try await login(client, email: "boss@example.cn", password: "a brand new secret").status == .unauthorized)
        }
    }

    @Test("cookie-authenticated API writes need the CSRF token")
    func csrf() async throws {
        try await withTestApp { registry, _, client in
            _ = try await registry.makeUser(email: "admin@example.cn", password: Self.password)
            let response = try await login(client, email: "admin@example.cn")
            let t = token(response)
            let csrf = try #require(TestJSON.object(response.body)["csrf_token"] as? String)
            let cookie: HTTPFields = [.cookie: "registry_session=\(t)"]
            #expect(try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: cookie).status == .ok)
            let forged = try await client.execute(uri: "/api/v1/auth/logout", method: .post, headers: cookie)
            #expect(forged.status == .forbidden)
            #expect(TestJSON.errorCode(forged.body) == "csrf_failed")
            var good = cookie
            good[HTTPField.Name("X-CSRF-Token")!] = csrf
            #expect(try await client.execute(uri: "/api/v1/auth/logout", method: .post, headers: good).status == .noContent)
        }
    }

    @Test("access is denied by default: anonymous 401, a role without the grant 403, on every guarded route")
    func accessDeniedByDefault() async throws {
        try await withTestApp { registry, _, client in
            _ = try await registry.makeUser(role: .employer, email: "boss@example.cn", password: Self.password)
            let employer = token(try await login(client, email: "boss@example.cn"))
            // Every route names an action the policy defines.
            let (_, routes) = buildRouter(registry)
            #expect(routes.count >= 10)
            for route in routes {
                #expect(registry.policies.access.actions[route.action] != nil, "\(route.method) \(route.path)")
            }
            // Every API route whose action a role lacks refuses that role, before it reads a parameter or a body:
            // anonymous callers get 401, a signed-in employer 403.
            let access = registry.policies.access
            var anonymousChecked = 0
            var employerChecked = 0
            for route in routes where route.path.hasPrefix("/api/") {
                let uri = route.path.replacingOccurrences(of: #"\{[^}]+\}"#, with: UUID().uuidString.lowercased(), options: .regularExpression)
                let method = try #require(HTTPRequest.Method(route.method))
                let body = method == .get || method == .delete ? nil : ByteBuffer(string: "{}")
                if !access.permits(.anonymous, route.action) {
                    let status = try await client.execute(uri: uri, method: method, headers: [.contentType: "application/json"], body: body).status
                    #expect(status == .unauthorized, "\(route.method) \(route.path) without credentials: \(status)")
                    anonymousChecked += 1
                }
                if !access.permits(.employer, route.action), route.path != "/api/v1/auth/logout" {
                    let status = try await client.execute(uri: uri, method: method, headers: bearer(employer), body: body).status
                    #expect(status == .forbidden, "\(route.method) \(route.path) as an employer: \(status)")
                    employerChecked += 1
                }
            }
            #expect(anonymousChecked >= 60 && employerChecked >= 40, "\(anonymousChecked) and \(employerChecked) routes checked")
        }
    }

    @Test("health, readiness, metrics and the API description are served")
    func operations() async throws {
        try await withTestApp { registry, _, client in
            #expect(try await client.execute(uri: "/health/live", method: .get).status == .ok)
            // The first connections of a fresh pool (SCRAM sign-in) may take longer than readiness waits
            // when the whole suite runs at once: ask again for a while.
            var ready = try await client.execute(uri: "/health/ready", method: .get)
            for _ in 0..<20 where ready.status != .ok {
                try await Task.sleep(for: .milliseconds(500))
                ready = try await client.execute(uri: "/health/ready", method: .get)
            }
            #expect(ready.status == .ok)
            _ = try await client.execute(uri: "/api/v1/audit", method: .get)
            // Metrics are for administrators here (a scraper uses REGISTRY_METRICS_ADDRESS).
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .unauthorized)
            _ = try await registry.makeUser(email: "ops@example.cn", password: Self.password)
            let admin = token(try await login(client, email: "ops@example.cn"))
            let metrics = try await client.execute(uri: "/metrics", method: .get, headers: bearer(admin))
            #expect(String(buffer: metrics.body).contains("http_server_request_duration"))
            #expect(String(buffer: metrics.body).contains("registry_db_connections"))
            let openapi = try await client.execute(uri: "/openapi.yaml", method: .get)
            #expect(openapi.status == .ok)
            #expect(String(buffer: openapi.body).hasPrefix("openapi: 3.1"))
            let unknown = try await client.execute(uri: "/api/v1/no/such/thing", method: .get)
            #expect(unknown.status == .notFound)
            #expect(TestJSON.errorCode(unknown.body) == "not_found")
            #expect(unknown.headers[HTTPField.Name("X-Request-ID")!] != nil)
        }
    }
}

@Suite("Password hashing (argon2id)")
struct PasswordTests {
    @Test("the production parameters are OWASP's, verify the right password and reject a wrong one")
    func verify() async throws {
        let hasher = PasswordHasher()
        #expect(hasher.parameters == .owasp)
        let hash = try await hasher.hash("correct horse battery")
        #expect(hash.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$"))
        #expect(try await hasher.verify("correct horse battery", hash: hash))
        #expect(!(try await hasher.verify("correct horse batterz", hash: hash)))
        #expect(!(try await hasher.verify("correct horse battery", hash: "not a hash")))
        #expect(!hasher.needsRehash(hash))
        #expect(PasswordHasher(parameters: .init(memory: 32768, iterations: 3, parallelism: 1)).needsRehash(hash))
    }

    @Test("a hash made with weaker parameters is replaced at the next sign-in")
    func rehashOnLogin() async throws {
        let stronger = PasswordHasher(parameters: .init(memory: 2048, iterations: 2, parallelism: 1))
        try await withTestRegistry(hasher: stronger) { registry, _ in
            let id = try await registry.makeUser(email: "admin@example.cn", password: "correct horse battery")  // testHasher: weaker
            _ = try await registry.auth.login(
                .email("admin@example.cn"),
                password: "correct horse battery",
                clientAddress: nil,
                presentedToken: nil,
                requestID: nil,
                logger: testLogger
            )
            let user = try await registry.database.withConnection { connection in
                try await AccountStore.find(id: id, on: connection, logger: testLogger)
            }
            let hash = try #require(user?.passwordHash)
            #expect(hash.contains("m=2048,t=2,p=1"))
            #expect(!stronger.needsRehash(hash))
            // And the new hash still opens the account.
            _ = try await registry.auth.login(
                .email("admin@example.cn"),
                password: "correct horse battery",
                clientAddress: nil,
                presentedToken: nil,
                requestID: nil,
                logger: testLogger
            )
        }
    }
}
