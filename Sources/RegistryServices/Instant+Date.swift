import Foundation
import RegistryDomain

extension Instant {
    public init(_ date: Date) { self.init(secondsSince1970: date.timeIntervalSince1970) }

    public var date: Date { Date(timeIntervalSince1970: secondsSince1970) }
}
