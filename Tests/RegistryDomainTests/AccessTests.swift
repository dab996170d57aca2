import Testing
@testable import RegistryDomain

@Suite("Access policy and login throttling rules")
struct AccessPolicyTests {
    func policy() throws -> AccessPolicy {
        try AccessPolicy(version: 1, actions: ["a.read": "", "a.write": ""],
                         grants: [.admin: ["a.read", "a.write"], .employer: ["a.read"]])
    }

    @Test("anything not granted is denied; anonymous callers are told to sign in")
    func denyByDefault() throws {
        let p = try policy()
        #expect(p.permits(.admin, "a.write"))
        #expect(!p.permits(.employer, "a.write"))
        #expect(!p.permits(.worker, "a.read"))  // role not listed at all
        #expect(!p.permits(.admin, "unknown.action"))
        #expect(throws: RegistryError.unauthenticated) { try p.authorize(.anonymous, "a.read") }
        let employer = Principal(.user(id: "u", role: .employer, agencyID: nil, workerID: nil))
        #expect(throws: RegistryError.forbidden) { try p.authorize(employer, "a.write") }
        try p.authorize(employer, "a.read")
    }

    @Test("granting an action the policy does not define is a policy error naming the role")
    func unknownAction() {
        #expect(throws: PolicyError(path: ["roles", "employer"], message: "grants unknown action 'b.read'")) {
            try AccessPolicy(version: 1, actions: ["a.read": ""], grants: [.employer: ["b.read"]])
        }
    }

    @Test("blocks start at the allowance, double, and never exceed the cap")
    func throttle() {
        let t = LoginThrottlePolicy(accountFailuresAllowed: 5, addressFailuresAllowed: 30, windowSeconds: 900,
                                    baseBlockSeconds: 30, maxBlockSeconds: 900)
        #expect(t.blockSeconds(afterFailures: 4, allowed: 5) == 0)
        #expect(t.blockSeconds(afterFailures: 5, allowed: 5) == 30)
        #expect(t.blockSeconds(afterFailures: 6, allowed: 5) == 60)
        #expect(t.blockSeconds(afterFailures: 9, allowed: 5) == 480)
        #expect(t.blockSeconds(afterFailures: 10, allowed: 5) == 900)
        #expect(t.blockSeconds(afterFailures: 10_000, allowed: 5) == 900)
    }

    @Test("an invalid throttle policy is refused")
    func invalidThrottle() {
        #expect(throws: PolicyError.self) {
            try LoginThrottlePolicy(accountFailuresAllowed: 0).validate()
        }
        #expect(throws: PolicyError.self) {
            try LoginThrottlePolicy(baseBlockSeconds: 100, maxBlockSeconds: 10).validate()
        }
    }
}
