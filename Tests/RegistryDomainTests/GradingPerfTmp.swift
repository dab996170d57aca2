import Foundation
import Testing
@testable import RegistryDomain

@Test func gradingPerfTmp() throws {
    let inputs = GradingFixtures.randomInputs(count: 20000, seed: 5)
    let g = GradingFixtures.grader()
    let clock = ContinuousClock()
    var n = 0
    let t = clock.measure { for i in inputs { n &+= g.grade(i).composite > 50 ? 1 : 0 } }
    print("PERF grade x20000:", t, "per grade µs:", Double(t.components.attoseconds) / 1e12 / 20000 + Double(t.components.seconds) * 1e6 / 20000)
    var w = GradingFixtures.goodWorker()
    w.reviews += (0..<5).map { GradingFixtures.review(4, daysAgo: 400 + $0 * 30) }
    let data = try JSONEncoder().encode(g.grade(w))
    let comp = try JSONEncoder().encode(g.grade(w).computation)
    print("SIZE result bytes:", data.count, "computation:", comp.count, "reviews:", w.reviews.count)
    let t2 = clock.measure { for _ in 0..<2000 { _ = try? JSONEncoder().encode(g.grade(w)) } }
    print("PERF grade+encode x2000:", t2)
}
